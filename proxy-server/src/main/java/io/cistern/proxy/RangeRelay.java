package io.cistern.proxy;

import io.cistern.cache.BlobContent;
import io.cistern.cache.GrowingBlob;
import io.cistern.oci.Digest;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.UpstreamObserver;
import io.cistern.upstream.UpstreamRouter.Route;
import java.io.IOException;
import java.net.http.HttpResponse.BodySubscriber;
import java.net.http.HttpResponse.ResponseInfo;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A client's {@code Range} on a blob that is not cached: lazy-pull formats (eStargz, SOCI,
 * zstd:chunked, nydus) read a layer's end first (a footer, a table of contents), then chunks here
 * and there, long before a download from the start would reach them. Such a range, when it starts
 * beyond what the blob's download has written, is relayed from a ranged upstream GET at once;
 * the blob's one full download starts (or goes on) beside it, as for any miss.
 *
 * <p>What is not relayed: a range of a cached blob (served from the file), one that starts within
 * the bytes written (it follows the download, from the temp file), one of a verified download, and
 * one from byte 0 (the download brings those first). A range relayed is not verified: no part of a
 * blob can be checked against its digest before all of it is in (these formats check each chunk
 * against their own table of contents). A relay that the upstream does not answer with exactly the
 * range asked (it ignores ranges, or fails) falls back to following the download.
 *
 * <p>A small range of a blob nothing here has yet (neither stored nor downloading) goes first: its
 * download starts once the relay has all of the range's bytes (before the client has the last of
 * them), not beside it. A lazy-pull reader waits on exactly those first ranges (a footer, a table
 * of contents), and on a limited link a download started beside them would take half the
 * bandwidth they need. Up to {@link #SMALL_RANGE} the wait is short; a larger range starts the
 * download at once, and a client that stops reading holds it back no longer than the upstream's
 * idle timeout.
 *
 * <p>The ranged GET goes through the route's upstream client, with its authentication, and under
 * the blob downloads' cap: its body goes to one client at that client's pace and may be large (a
 * range to the end), so it must not take a small requests' permit, which a manifest or a tag
 * revalidation would then wait for. Each is counted apart ({@link UpstreamObserver#rangeRelayed}),
 * so that one full GET per blob stays checkable.
 */
public final class RangeRelay {

  /** The longest relayed range that holds a cold blob's download back until its bytes are in. */
  public static final long SMALL_RANGE = 4L << 20;

  private static final Pattern CONTENT_RANGE = Pattern.compile("bytes\\s+(\\d+)-(\\d+)/(\\d+)");

  private final BlobService blobs;
  private final ScheduledExecutorService timer;
  private final UpstreamObserver observer;

  /**
   * @param timer runs the relays' idle watchdogs
   * @param observer told of each ranged GET (metrics)
   */
  public RangeRelay(BlobService blobs, ScheduledExecutorService timer, UpstreamObserver observer) {
    this.blobs = blobs;
    this.timer = timer;
    this.observer = observer;
  }

  /** The bytes for a request of {@code asked}: the blob's own source, or a relay of the range. */
  public CompletableFuture<BlobSource> open(Route route, Digest digest, RequestedRange asked) {
    if (!asked.fromTheStart() && blobs.isCold(route, digest)) {
      return relayFirst(route, digest, asked);
    }
    CompletableFuture<BlobSource> whole = blobs.open(route, digest);
    // Done at once: a cache hit, a download under way joined, or a failure known without asking
    // anyone (an offline upstream). Not yet: a download is starting, and has written nothing.
    Optional<GrowingBlob> underWay = whole.isDone() ? following(whole) : Optional.empty();
    if (whole.isDone() && underWay.isEmpty() || !beyondWritten(underWay, asked)) {
      return whole;
    }
    return relay(route, digest, asked, underWay.map(GrowingBlob::expectedSize).orElse(-1L), () -> {})
        .handle((relayed, failure) -> {
          if (failure != null) {
            return whole;
          }
          // The download goes on for the cache (and its other clients); this request has no use for it.
          whole.thenAccept(RangeRelay::release);
          return CompletableFuture.<BlobSource>completedFuture(relayed);
        })
        .thenCompose(source -> source);
  }

  /**
   * Relays {@code asked} of a cold blob and starts the blob's download once the relay has the
   * range's bytes (see the class comment). If the upstream does not answer the range, the request
   * follows the download as any miss does.
   */
  private CompletableFuture<BlobSource> relayFirst(Route route, Digest digest, RequestedRange asked) {
    AtomicBoolean started = new AtomicBoolean();
    Runnable download = () -> {
      if (started.compareAndSet(false, true)) {
        blobs.open(route, digest).thenAccept(RangeRelay::release);
      }
    };
    ScheduledFuture<?> stalled = timer.schedule(download, route.upstream().client().settings().idleTimeout().toMillis(),
        TimeUnit.MILLISECONDS);
    return relay(route, digest, asked, -1, () -> {
      stalled.cancel(false);
      download.run();
    }).handle((relayed, failure) -> {
      if (failure != null) {
        // Not the range asked: the request follows the download, which its own open starts.
        stalled.cancel(false);
        return blobs.open(route, digest);
      }
      return CompletableFuture.<BlobSource>completedFuture(relayed);
    }).thenCompose(source -> source);
  }

  /** The download a completed source follows, if it is one. */
  private static Optional<GrowingBlob> following(CompletableFuture<BlobSource> done) {
    if (done.isCompletedExceptionally()) {
      return Optional.empty();
    }
    return done.join() instanceof BlobSource.Downloading downloading ? Optional.of(downloading.blob()) : Optional.empty();
  }

  /**
   * Whether {@code asked} starts beyond what the download under way has written: with none under
   * way yet (it is starting now), anything after byte 0.
   */
  private static boolean beyondWritten(Optional<GrowingBlob> underWay, RequestedRange asked) {
    if (underWay.isEmpty()) {
      return !asked.fromTheStart();
    }
    GrowingBlob blob = underWay.get();
    long size = blob.expectedSize();
    if (size < 0 || blob.isVerified() || !asked.satisfiableIn(size)) {
      return false;
    }
    return asked.firstIn(size) > blob.written();
  }

  /**
   * @param rangeIn run once when the relay has all of a small range's bytes or has ended, or at
   *     once when the upstream's answer is a larger range; never when it is not the range asked
   */
  private CompletableFuture<BlobSource> relay(Route route, Digest digest, RequestedRange asked, long knownSize,
      Runnable rangeIn) {
    RegistryClient client = route.upstream().client();
    CompletableFuture<BlobSource> relayed = new CompletableFuture<>();
    observer.rangeRelayed(client.host());
    client.getBlobRange(route.repository(), digest, asked.header(),
            info -> bodyFor(info, client, asked, knownSize, rangeIn, relayed))
        .whenComplete((response, failure) -> {
          if (failure != null) {
            relayed.completeExceptionally(failure);
          }
        });
    return relayed;
  }

  /** The body's subscriber: handed on to the client if the upstream answered the range asked, else cancelled. */
  private BodySubscriber<Void> bodyFor(ResponseInfo info, RegistryClient client, RequestedRange asked, long knownSize,
      Runnable rangeIn, CompletableFuture<BlobSource> relayed) {
    Optional<long[]> range = info.statusCode() == 206
        ? info.headers().firstValue("Content-Range").flatMap(RangeRelay::contentRange)
        : Optional.empty();
    if (range.isEmpty() || !answers(range.get(), asked, knownSize)) {
      relayed.completeExceptionally(new IOException("upstream " + client.host() + " did not answer "
          + asked.header() + " with that range (status " + info.statusCode() + ")"));
      return new Refused();
    }
    long first = range.get()[0];
    long last = range.get()[1];
    long size = range.get()[2];
    long length = last - first + 1;
    if (length > SMALL_RANGE) {
      rangeIn.run();
    }
    RelayedBody body = new RelayedBody(client.settings().idleTimeout(), timer, length,
        length > SMALL_RANGE ? () -> {} : rangeIn);
    body.subscribed().thenRun(() -> relayed.complete(
        new BlobSource.Relayed(new BlobContent.Streamed(last - first + 1, body), first, last, size)));
    return body;
  }

  /**
   * Whether {@code first-last/size} is the range asked, of a blob of the size the download
   * announced (when one is under way), and not the whole blob (which the download serves, its
   * last byte held until verified).
   */
  private static boolean answers(long[] range, RequestedRange asked, long knownSize) {
    long first = range[0];
    long last = range[1];
    long size = range[2];
    if (first > last || last >= size || (knownSize >= 0 && size != knownSize) || !asked.satisfiableIn(size)) {
      return false;
    }
    return first == asked.firstIn(size) && last == asked.lastIn(size) && !(first == 0 && last == size - 1);
  }

  /** {@code bytes first-last/size}, or empty when it is not that. */
  private static Optional<long[]> contentRange(String header) {
    Matcher matcher = CONTENT_RANGE.matcher(header.trim());
    if (!matcher.matches()) {
      return Optional.empty();
    }
    try {
      return Optional.of(new long[] {Long.parseLong(matcher.group(1)), Long.parseLong(matcher.group(2)),
          Long.parseLong(matcher.group(3))});
    } catch (NumberFormatException tooLong) {
      return Optional.empty();
    }
  }

  private static void release(BlobSource unused) {
    if (unused instanceof BlobSource.Stored stored) {
      stored.content().close();
    }
  }

  /** A body not wanted (a whole blob where a range was asked): cancelled at once, so its connection is let go. */
  private static final class Refused implements BodySubscriber<Void> {

    private final CompletableFuture<Void> body = new CompletableFuture<>();

    @Override
    public CompletionStage<Void> getBody() {
      return body;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      subscription.cancel();
      body.complete(null);
    }

    @Override
    public void onNext(List<ByteBuffer> item) {
      // Cancelled: nothing more comes.
    }

    @Override
    public void onError(Throwable throwable) {
      body.complete(null);
    }

    @Override
    public void onComplete() {
      body.complete(null);
    }
  }
}
