package io.cistern.proxy;

import io.cistern.cache.BlobCache;
import io.cistern.cache.Ingest;
import io.cistern.cluster.ClusterObserver;
import io.cistern.cluster.Member;
import io.cistern.cluster.MemberClient;
import io.cistern.cluster.Membership;
import io.cistern.cluster.SharedBucket;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.UpstreamObserver;
import io.cistern.upstream.UpstreamRouter.Route;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.Function;

/**
 * Where the bytes of a blob the local tier misses come from, in this order ({@link BlobFill}):
 * <ol>
 *   <li>the shared bucket, when there is one and it is reachable;
 *   <li>for a client's request, the members ranked above this one for the digest, its owner first
 *       (a member's request is never passed on: this member is the owner it asked);
 *   <li>the upstream, which this member then downloads from itself, and, once the blob is
 *       verified and stored, uploads to the bucket off the client's path.
 * </ol>
 * Without a cluster or a bucket only the upstream is left: the download as on a single node.
 */
final class BlobOrigins implements BlobFetcher {

  private final BlobCache cache;
  private final Executor executor;
  private final ScheduledExecutorService timer;
  private final UpstreamObserver observer;
  private final Membership membership;
  private final MemberClient members;
  private final SharedBucket bucket;
  private final ClusterObserver clusterObserver;

  /**
   * @param membership the cluster's members, or null when this Cistern is in none
   * @param members how to ask them, with {@code membership}
   * @param bucket the shared bucket, or null when there is none
   */
  BlobOrigins(BlobCache cache, Executor executor, ScheduledExecutorService timer, UpstreamObserver observer,
      Membership membership, MemberClient members, SharedBucket bucket, ClusterObserver clusterObserver) {
    this.cache = cache;
    this.executor = executor;
    this.timer = timer;
    this.observer = observer;
    this.membership = membership;
    this.members = members;
    this.bucket = bucket;
    this.clusterObserver = clusterObserver;
  }

  @Override
  public CompletableFuture<Ingest> start(Route route, Digest digest, Caller caller) {
    List<BlobFill.Origin> before = new ArrayList<>(2);
    if (bucket != null) {
      before.add(new BucketOrigin(bucket, executor));
    }
    boolean offline = route.upstream().offline();
    if (membership != null && caller == Caller.CLIENT && !offline) {
      for (Member member : membership.ahead(digest.toString())) {
        before.add(new MemberOrigin(member, members, membership, route, timer, clusterObserver));
      }
    }
    Function<Ingest, CompletableFuture<Ingest>> upstream = offline ? null : resumeInto -> uploaded(digest,
        new BlobDownload(route.upstream().client(), route.repository(), digest, cache, timer, observer, resumeInto).start());
    return new BlobFill(digest, cache, executor, before.iterator(), upstream, last -> notCached(digest)).start();
  }

  @Override
  public boolean fillsOffline() {
    return bucket != null;
  }

  /** Uploads what the upstream download stores, once stored, when there is a bucket. */
  private CompletableFuture<Ingest> uploaded(Digest digest, CompletableFuture<Ingest> download) {
    if (bucket == null) {
      return download;
    }
    return download.thenApply(ingest -> {
      bucket.upload(digest, ingest.followers().finished(), () -> cache.open(digest));
      return ingest;
    });
  }

  private static RegistryException notCached(Digest digest) {
    return new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not cached");
  }
}
