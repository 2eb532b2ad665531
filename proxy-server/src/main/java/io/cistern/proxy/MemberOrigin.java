package io.cistern.proxy;

import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.FillSource;
import io.cistern.cache.Ingest;
import io.cistern.cache.LocalStorageException;
import io.cistern.cluster.ClusterObserver;
import io.cistern.cluster.Member;
import io.cistern.cluster.MemberClient;
import io.cistern.cluster.MemberException;
import io.cistern.cluster.Membership;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.UpstreamRouter.Route;
import java.io.IOException;
import java.net.http.HttpResponse.ResponseInfo;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;

/**
 * A member ranked above this one for the digest (its owner, or the next one up when the owner is
 * down) as an origin of a blob: {@code GET} from it with the member header, from where the fill
 * stands ({@code Range}), while it downloads the blob itself if it must. Its bytes are written as
 * they come, so this member's clients follow the owner's download as the owner's own do.
 *
 * <p>A member that does not answer, or cuts its answer, is taken for down at once and the fill
 * goes on with the next origin; one that answers 404 or 403 passes on its upstream's refusal,
 * which ends the fill.
 */
final class MemberOrigin implements BlobFill.Origin {

  /** How long an owner's answer may stall before the next member takes over. */
  static final Duration IDLE_TIMEOUT = Duration.ofSeconds(30);

  private final Member member;
  private final MemberClient client;
  private final Membership membership;
  private final Route route;
  private final ScheduledExecutorService timer;
  private final ClusterObserver observer;

  MemberOrigin(Member member, MemberClient client, Membership membership, Route route, ScheduledExecutorService timer,
      ClusterObserver observer) {
    this.member = member;
    this.client = client;
    this.membership = membership;
    this.route = route;
    this.timer = timer;
    this.observer = observer;
  }

  @Override
  public CompletableFuture<Boolean> fill(BlobFill fill) {
    long offset = fill.written();
    MessageDigest prefix = offset > 0 ? fill.ingest().hashSoFar() : null;
    return client.getBlob(member, route.upstream().host(), route.repository(), fill.digest(), offset,
            info -> sinkFor(fill, info, offset, prefix))
        .handle((response, failure) -> {
          if (failure == null) {
            observer.peerFetch("completed");
            return true;
          }
          MemberException answer = MemberException.of(member, failure);
          if (answer.isRefusal()) {
            observer.peerFetch("refused");
            throw refusal(answer, fill);
          }
          observer.peerFetch("failed");
          if (answer.isUnreachable() && !causedHere(failure)) {
            membership.unreachable(member, answer);
          }
          throw answer;
        });
  }

  private DownloadSink sinkFor(BlobFill fill, ResponseInfo info, long offset, MessageDigest prefix) {
    CompletableFuture<Ingest> ready;
    if (info.statusCode() == 206 && !BlobDownload.resumesAt(info, offset)) {
      ready = CompletableFuture.failedFuture(new IOException("member " + member + " answered a different range than asked for"));
    } else {
      ready = fill.ingestFor(info.headers().firstValueAsLong("Content-Length").orElse(-1));
    }
    long skip = offset > 0 && info.statusCode() == 200 ? offset : 0;
    return new DownloadSink(ready, skip, skip > 0 ? prefix : null, IDLE_TIMEOUT, timer);
  }

  /**
   * Whether the fetch failed on this side (the cache refused or failed to write, the bytes did not
   * fit): the member is not to blame, and stays live.
   */
  private static boolean causedHere(Throwable failure) {
    for (Throwable below = failure; below != null; below = below.getCause()) {
      if (below instanceof LocalStorageException || below instanceof ContentMismatchException
          || StoreErrors.refusal(below) != null) {
        return true;
      }
    }
    return false;
  }

  private static RegistryException refusal(MemberException answer, BlobFill fill) {
    return answer.status() == 404
        ? new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + fill.digest() + " unknown to the upstream (asked through "
            + answer.member() + ")")
        : new RegistryException(ErrorCode.DENIED, 403, "the upstream denies blob " + fill.digest() + " (asked through "
            + answer.member() + ")", null, null);
  }

  @Override
  public FillSource source() {
    return FillSource.MEMBER;
  }

  @Override
  public String toString() {
    return "member " + member;
  }
}
