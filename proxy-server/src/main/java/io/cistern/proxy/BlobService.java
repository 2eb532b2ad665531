package io.cistern.proxy;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.cistern.cache.BlobCache;
import io.cistern.cache.BlobContent;
import io.cistern.cache.GrowingBlob;
import io.cistern.cache.Ingest;
import io.cistern.cache.NoRoomOnDiskException;
import io.cistern.cluster.Cluster;
import io.cistern.cluster.SharedBucket;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.UpstreamObserver;
import io.cistern.upstream.UpstreamRouter.Route;
import java.net.URI;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;
import java.util.function.BiFunction;

/**
 * Pull-through for blobs: serve from the cache, else join the download under way, else start one.
 *
 * <p>Single flight: in-flight downloads live in a Caffeine {@link AsyncCache} keyed by digest (see
 * {@link SingleFlight}), so however many clients miss on one digest at once, one download runs
 * and they all get its future; distinct digests download in parallel and no lock is held while
 * anything downloads. The entry leaves the map only after the blob is published (or the download
 * failed), and a new download checks the cache first (on the executor, not under the map's lock),
 * so a request racing with the end of a download finds the file. "Published" means stored
 * durably: clients had the last byte once the blob was verified, and a request that comes between
 * its verification and its storage joins the verified download and is served from it. A refusal of one route (its
 * upstream or repository answers 401, 403 or 404) is not handed to the clients of another: they
 * try once with their own.
 *
 * <p>A download is one {@link Ingest} of the cache's: this service starts it, keeps it in the
 * single flight, and hands its clients its followers' view ({@link GrowingBlob}); a cached blob is
 * handed out as the content the cache opened ({@link BlobContent}). Where a download's bytes come
 * from (the bucket, the blob's owner in the cluster, the upstream) is {@link BlobOrigins}'s
 * business. A member's request joins the flight under way like a client's: it is how the owner's
 * download serves every member while it runs; and it cannot go round in a circle, since a member
 * only ever asks members ranked above itself for the digest.
 *
 * <p>Threads: a cache hit opens its file (and a HEAD stats it) on the caller's thread, the
 * connection's event loop. That is one {@code open(2)}, an {@code fstat} and a read of the size
 * recorded on the file (see {@link BlobCache#open}) on a directory the kernel has cached, cheaper
 * than the sendfile of the same blob that follows on that loop anyway; a hop to an executor would
 * cost every hit a hand-off and a pause in reading. (Rarely more: a file with no recorded size
 * reads its row once, and a damaged one is renamed into quarantine, on that loop too.) A file
 * found damaged is a miss, and is fetched again like one. Everything on the
 * miss path that may wait longer (the single flight's own look at the cache, a second look after
 * it, the upstream) runs on the executor or the upstream client's threads.
 */
public final class BlobService {

  private final BlobCache cache;
  private final Executor executor;
  private final BlobFetcher fetcher;
  private final SharedBucket shared;
  private final AsyncCache<Digest, Ingest> downloads;

  /**
   * @param timer runs the downloads' idle watchdogs and their retries' waits
   * @param observer told about each retry of a download (metrics)
   * @param cluster the other members and the bucket a miss may be filled from ({@link BlobOrigins})
   */
  public BlobService(BlobCache cache, Executor executor, ScheduledExecutorService timer, UpstreamObserver observer,
      Cluster cluster) {
    this(cache, executor, new BlobOrigins(cache, executor, timer, observer, cluster.membership(), cluster.members(),
        cluster.bucket(), cluster.observer()), cluster.bucket());
  }

  /**
   * @param downloader starts a download of a digest through a route; its future completes once the
   *     bytes can be followed
   */
  BlobService(BlobCache cache, Executor executor, BiFunction<Route, Digest, CompletableFuture<Ingest>> downloader) {
    this(cache, executor, (route, digest, caller) -> downloader.apply(route, digest), null);
  }

  private BlobService(BlobCache cache, Executor executor, BlobFetcher fetcher, SharedBucket shared) {
    this.cache = cache;
    this.executor = executor;
    this.fetcher = fetcher;
    this.shared = shared;
    this.downloads = Caffeine.newBuilder().executor(executor).buildAsync();
  }

  /** The blob's bytes for a client: a cached file, or the download to follow. */
  public CompletableFuture<BlobSource> open(Route route, Digest digest) {
    return open(route, digest, Caller.CLIENT);
  }

  /** The blob's bytes: a cached file, or the download to follow (started for {@code caller} if need be). */
  public CompletableFuture<BlobSource> open(Route route, Digest digest, Caller caller) {
    return open(route, digest, caller, true);
  }

  private CompletableFuture<BlobSource> open(Route route, Digest digest, Caller caller, boolean mayLookAgain) {
    Optional<BlobContent.FileRegion> stored = cache.open(digest);
    if (stored.isPresent()) {
      return CompletableFuture.completedFuture(new BlobSource.Stored(stored.get()));
    }
    if (route.upstream().offline() && !fetcher.fillsOffline()) {
      // Nothing is asked of an offline upstream; a blob another route's download has verified
      // (and is storing now) is as good as cached.
      return downloadUnderWay(digest).filter(GrowingBlob::isVerified)
          .<CompletableFuture<BlobSource>>map(blob -> CompletableFuture.completedFuture(new BlobSource.Downloading(blob)))
          .orElseGet(() -> CompletableFuture.failedFuture(notCached(digest)));
    }
    return download(route, digest, caller).thenCompose(ingest -> {
      if (ingest == null) {
        // Published between our miss and our turn at the single flight, so it is on disk; unless
        // it was evicted just since, when looking once more downloads it again.
        return mayLookAgain
            ? CompletableFuture.supplyAsync(() -> open(route, digest, caller, false), executor).thenCompose(source -> source)
            : CompletableFuture.failedFuture(notCached(digest));
      }
      GrowingBlob blob = ingest.followers();
      if (blob.expectedSize() == 0) {
        // Nothing to follow, and an empty 200 would look complete before the (empty) content is
        // verified: it is answered once published, like a cached blob.
        return blob.finished().handle((path, failure) -> failure)
            .thenCompose(failure -> failure == null ? open(route, digest, caller, false) : CompletableFuture.failedFuture(
                new RegistryException(ErrorCode.UNAVAILABLE, 502, "the download of " + digest + " failed", null, failure)));
      }
      return CompletableFuture.completedFuture(new BlobSource.Downloading(blob));
    });
  }

  /**
   * Where a client should fetch the blob instead of from this member: a short-lived presigned URL
   * of the bucket, when redirects are on, the blob is neither stored here nor downloading, and the
   * bucket holds it; empty otherwise (serve it as usual).
   */
  public CompletableFuture<Optional<URI>> redirect(Digest digest) {
    if (shared == null || !shared.redirects() || cache.contains(digest) || downloads.getIfPresent(digest) != null) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return shared.redirect(digest);
  }

  /** The blob's size for a client. */
  public CompletableFuture<Long> size(Route route, Digest digest) {
    return size(route, digest, Caller.CLIENT);
  }

  /**
   * The blob's size without downloading it when anyone knows it: cache, download, bucket, or
   * upstream HEAD.
   */
  public CompletableFuture<Long> size(Route route, Digest digest, Caller caller) {
    Optional<Long> stored = cache.sizeOf(digest);
    if (stored.isPresent()) {
      return CompletableFuture.completedFuture(stored.get());
    }
    CompletableFuture<Ingest> underway = downloads.getIfPresent(digest);
    if (underway != null) {
      return underway.handle((ingest, failure) -> failure == null ? ingest : null).thenCompose(ingest -> {
        if (ingest != null && ingest.expectedSize() >= 0) {
          return CompletableFuture.completedFuture(ingest.expectedSize());
        }
        // A download that announced no size still runs (it stays in the map until it ends), so
        // asking the map again would loop; one that failed may have been refused for another
        // route. The cache or this route's upstream must say.
        return cache.sizeOf(digest).map(CompletableFuture::completedFuture).orElseGet(() -> sizeFromElsewhere(route, digest, caller));
      });
    }
    return sizeFromElsewhere(route, digest, caller);
  }

  private CompletableFuture<Long> sizeFromElsewhere(Route route, Digest digest, Caller caller) {
    if (shared == null) {
      return sizeFromUpstream(route, digest, caller);
    }
    return shared.size(digest).thenCompose(size -> size.isPresent()
        ? CompletableFuture.completedFuture(size.getAsLong())
        : sizeFromUpstream(route, digest, caller));
  }

  private CompletableFuture<Long> sizeFromUpstream(Route route, Digest digest, Caller caller) {
    if (route.upstream().offline()) {
      return CompletableFuture.failedFuture(notCached(digest));
    }
    return route.upstream().client().headBlob(route.repository(), digest).thenCompose(size -> size.isPresent()
        ? CompletableFuture.completedFuture(size.getAsLong())
        : open(route, digest, caller).thenCompose(BlobService::sizeOf));
  }

  /**
   * Whether nothing of the blob is here or on its way: not stored, no download started, and
   * {@code route} could fetch it. A range relay asks, to let a small range go first.
   */
  public boolean isCold(Route route, Digest digest) {
    // The download first: it leaves the single flight only once its blob is stored, so a blob
    // with no download is either stored by now or cold. Asked the other way round, a download
    // finishing between the two looks neither stored nor under way, and its range is fetched again.
    return downloads.getIfPresent(digest) == null && !cache.contains(digest)
        && !(route.upstream().offline() && !fetcher.fillsOffline());
  }

  /** The download of {@code digest} under way that has started writing, if there is one (a range relay asks). */
  public Optional<GrowingBlob> downloadUnderWay(Digest digest) {
    CompletableFuture<Ingest> started = downloads.getIfPresent(digest);
    Ingest ingest = started == null ? null : following(started);
    return ingest == null ? Optional.empty() : Optional.of(ingest.followers());
  }

  /** Downloads under way now; for metrics and the status page. */
  public int downloadsInFlight() {
    return downloads.asMap().size();
  }

  /** The downloads under way now that have started writing; for the status page's progress bars. */
  public List<GrowingBlob> downloadsUnderWay() {
    List<GrowingBlob> underWay = new ArrayList<>();
    for (CompletableFuture<Ingest> started : downloads.asMap().values()) {
      Ingest ingest = following(started);
      if (ingest != null && !ingest.followers().finished().isDone()) {
        underWay.add(ingest.followers());
      }
    }
    return underWay;
  }

  /** Completes when every download under way now has ended, published or not; for a graceful stop. */
  public CompletableFuture<Void> downloadsFinished() {
    return CompletableFuture.allOf(downloads.asMap().values().stream()
        .map(started -> started.thenCompose(ingest -> ingest == null
                ? CompletableFuture.completedFuture(null)
                : ingest.followers().finished())
            .handle((ignored, failure) -> null))
        .toArray(CompletableFuture[]::new));
  }

  /**
   * Abandons the downloads still under way when a stop can wait no longer: their temp files go,
   * their room is given back, and their readers' connections are cut, so no client takes a
   * partial body for a whole one. One already being published is left to finish.
   */
  public void abortDownloads(Throwable cause) {
    for (CompletableFuture<Ingest> started : downloads.asMap().values()) {
      Ingest ingest = following(started);
      if (ingest != null) {
        ingest.abandon(cause);
      }
    }
  }

  /** The download a map entry holds once it can be followed; null before, and if it failed to start. */
  private static Ingest following(CompletableFuture<Ingest> started) {
    return started.isDone() && !started.isCompletedExceptionally() ? started.join() : null;
  }

  /**
   * The download of {@code digest} under way, joined, or started through {@code route}; null when
   * the blob turned out to be stored already. A file system already short of the cache's free
   * space reserve refuses the download (507) before the upstream is asked: it could not be stored.
   */
  private CompletableFuture<Ingest> download(Route route, Digest digest, Caller caller) {
    return SingleFlight.joinByRoute(downloads, digest, route,
        through -> CompletableFuture.supplyAsync(() -> {
          if (cache.contains(digest)) {
            return true;
          }
          try {
            cache.requireFreeDisk();
          } catch (NoRoomOnDiskException refused) {
            throw StoreErrors.refusal(refused);
          }
          return false;
        }, executor).thenCompose(stored -> stored ? CompletableFuture.completedFuture(null) : fetcher.start(through, digest, caller)),
        ingest -> ingest.followers().finished());
  }

  private static CompletableFuture<Long> sizeOf(BlobSource source) {
    if (source instanceof BlobSource.Stored stored) {
      stored.content().close();
      return CompletableFuture.completedFuture(stored.size());
    }
    GrowingBlob blob = ((BlobSource.Downloading) source).blob();
    if (blob.expectedSize() >= 0) {
      return CompletableFuture.completedFuture(blob.expectedSize());
    }
    return blob.finished().thenApply(path -> blob.written());
  }

  private static RegistryException notCached(Digest digest) {
    return new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not cached");
  }
}
