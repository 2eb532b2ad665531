package io.cistern.proxy;

import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.cluster.Cluster;
import io.cistern.cluster.Member;
import io.cistern.cluster.MemberClient;
import io.cistern.cluster.MemberException;
import io.cistern.cluster.Membership;
import io.cistern.cluster.SharedBucket;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.Manifest;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.UpstreamRouter.Route;
import java.util.Iterator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;

/**
 * Where the manifests and tag mappings that the local cache misses may come from in a cluster,
 * before the upstream ({@link ManifestService} decides when): manifests from the bucket, where
 * they are stored under their digests like blobs; a tag's mapping from its document in the bucket
 * while that is fresh; else the repository's owner, which revalidates the tag (one HEAD upstream
 * per TTL for the whole cluster) and answers with the manifest. And what this member learnt from
 * the upstream goes into the bucket, off the client's path.
 *
 * <p>Nothing here ever fails a pull: a bucket that fails is a miss, and an owner that fails hands
 * over to the next member in order, and then to this member itself.
 */
final class ManifestOrigins {

  /** A single node without a bucket: nothing to ask, nothing to share. */
  static final ManifestOrigins NONE = new ManifestOrigins(Cluster.NONE);

  private final SharedBucket bucket;
  private final Membership membership;
  private final MemberClient members;

  ManifestOrigins(Cluster cluster) {
    this.bucket = cluster.bucket();
    this.membership = cluster.membership();
    this.members = cluster.members();
  }

  /** The manifest from the bucket; empty without a bucket, or when it does not hold it. */
  CompletableFuture<Optional<Manifest>> fromBucket(Digest digest) {
    if (bucket == null) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return bucket.readManifest(digest).thenApply(found -> {
      found.ifPresent(manifest -> bucket.filled());
      return found;
    });
  }

  /** Uploads a manifest this member fetched from the upstream, when there is a bucket. */
  void share(Manifest manifest) {
    if (bucket != null) {
      bucket.uploadManifest(manifest);
    }
  }

  /** The tag's mapping as the cluster last confirmed it, from the bucket; empty without one. */
  CompletableFuture<Optional<TagMapping>> sharedTag(TagKey key) {
    return bucket == null ? CompletableFuture.completedFuture(Optional.empty()) : bucket.readTag(key);
  }

  /** Shares a mapping this member confirmed with the upstream, when there is a bucket. */
  void share(TagMapping mapping, String mediaType) {
    if (bucket != null) {
      bucket.writeTag(mapping, mediaType);
    }
  }

  /**
   * The tag's manifest as the repository's owner resolves it; empty when this member is the owner,
   * when the request is a member's (it came to this member as the owner), or when no member ranked
   * above this one answered (this member resolves it itself then). A 404 or 403 from the owner is
   * its upstream's answer, and ends the request.
   */
  CompletableFuture<Optional<Manifest>> fromOwner(Route route, TagKey key, Caller caller) {
    if (membership == null || caller != Caller.CLIENT) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    List<Member> ahead = membership.ahead(ownerKey(key));
    return ask(ahead.iterator(), route, key);
  }

  private CompletableFuture<Optional<Manifest>> ask(Iterator<Member> ahead, Route route, TagKey key) {
    if (!ahead.hasNext()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    Member owner = ahead.next();
    return members.getManifest(owner, key.upstream(), key.repository(), key.tag())
        .thenApply(Optional::of)
        .exceptionallyCompose(failure -> {
          MemberException answer = MemberException.of(owner, failure);
          if (answer.isRefusal()) {
            return CompletableFuture.failedFuture(answer.status() == 404
                ? new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "tag " + key + " unknown to the upstream (asked through "
                    + owner + ")")
                : new RegistryException(ErrorCode.DENIED, 403, "the upstream denies tag " + key + " (asked through "
                    + owner + ")", null, null));
          }
          if (answer.isUnreachable()) {
            membership.unreachable(owner, answer);
          }
          return ask(ahead, route, key);
        });
  }

  /** One owner per repository at one upstream: its tags are revalidated in one place. */
  static String ownerKey(TagKey key) {
    return key.upstream() + "/" + key.repository();
  }
}
