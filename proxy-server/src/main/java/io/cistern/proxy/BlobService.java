package io.cistern.proxy;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.cistern.cache.BlobCache;
import io.cistern.cache.PartialBlob;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.UpstreamRouter.Route;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ScheduledExecutorService;

/**
 * Pull-through for blobs: serve from the cache, else join the download under way, else start one.
 *
 * <p>Single flight: in-flight downloads live in a Caffeine {@link AsyncCache} keyed by digest, so
 * however many clients miss on one digest at once, one download runs and they all get its future;
 * distinct digests download in parallel and no lock is held while anything downloads. The entry
 * leaves the map only after the blob is published (or the download failed), and a new download
 * checks the cache first, so a request racing with the end of a download finds the file.
 */
public final class BlobService {

  private final BlobCache cache;
  private final ScheduledExecutorService timer;
  private final AsyncCache<Digest, PartialBlob> downloads;

  public BlobService(BlobCache cache, Executor executor, ScheduledExecutorService timer) {
    this.cache = cache;
    this.timer = timer;
    this.downloads = Caffeine.newBuilder().executor(executor).buildAsync();
  }

  /** The blob's bytes: a cached file, or the download to follow. */
  public CompletableFuture<BlobSource> open(Route route, Digest digest) {
    Optional<FileChannel> stored = cache.open(digest);
    if (stored.isPresent()) {
      return CompletableFuture.completedFuture(stored(stored.get()));
    }
    if (route.upstream().offline()) {
      return CompletableFuture.failedFuture(notCached(digest));
    }
    return downloads.get(digest, (key, executor) -> download(route, key)).thenCompose(partial -> {
      if (partial != null) {
        return CompletableFuture.completedFuture(new BlobSource.Downloading(partial));
      }
      // Published between our miss and the download map: it is on disk now.
      return cache.open(digest)
          .<CompletableFuture<BlobSource>>map(channel -> CompletableFuture.completedFuture(stored(channel)))
          .orElseGet(() -> CompletableFuture.failedFuture(notCached(digest)));
    });
  }

  /** The blob's size without downloading it when anyone knows it: cache, download, or upstream HEAD. */
  public CompletableFuture<Long> size(Route route, Digest digest) {
    Optional<Long> stored = cache.sizeOf(digest);
    if (stored.isPresent()) {
      return CompletableFuture.completedFuture(stored.get());
    }
    CompletableFuture<PartialBlob> underway = downloads.getIfPresent(digest);
    if (underway != null) {
      return underway.thenCompose(partial -> {
        if (partial != null && partial.expectedSize() >= 0) {
          return CompletableFuture.completedFuture(partial.expectedSize());
        }
        // A download that announced no size still runs (it stays in the map until it ends), so
        // asking the map again would loop: the cache or the upstream must say.
        return cache.sizeOf(digest).map(CompletableFuture::completedFuture).orElseGet(() -> sizeFromUpstream(route, digest));
      });
    }
    return sizeFromUpstream(route, digest);
  }

  private CompletableFuture<Long> sizeFromUpstream(Route route, Digest digest) {
    if (route.upstream().offline()) {
      return CompletableFuture.failedFuture(notCached(digest));
    }
    return route.upstream().client().headBlob(route.repository(), digest).thenCompose(size -> size.isPresent()
        ? CompletableFuture.completedFuture(size.getAsLong())
        : open(route, digest).thenCompose(BlobService::sizeOf));
  }

  /** Downloads under way now; for metrics and the status page. */
  public int downloadsInFlight() {
    return downloads.asMap().size();
  }

  /** The downloads under way now that have started writing; for the status page's progress bars. */
  public List<PartialBlob> downloadsUnderWay() {
    List<PartialBlob> underWay = new ArrayList<>();
    for (CompletableFuture<PartialBlob> started : downloads.asMap().values()) {
      PartialBlob partial = started.getNow(null);
      if (partial != null && !partial.finished().isDone()) {
        underWay.add(partial);
      }
    }
    return underWay;
  }

  /** Completes when every download under way now has ended, published or not; for a graceful stop. */
  public CompletableFuture<Void> downloadsFinished() {
    return CompletableFuture.allOf(downloads.asMap().values().stream()
        .map(started -> started.thenCompose(partial -> partial == null ? CompletableFuture.completedFuture(null) : partial.finished())
            .handle((ignored, failure) -> null))
        .toArray(CompletableFuture[]::new));
  }

  /**
   * Abandons the downloads still under way when a stop can wait no longer: their temp files go
   * and their readers' connections are cut, so no client takes a partial body for a whole one.
   */
  public void abortDownloads(Throwable cause) {
    for (CompletableFuture<PartialBlob> started : downloads.asMap().values()) {
      PartialBlob partial = started.isDone() && !started.isCompletedExceptionally() ? started.join() : null;
      if (partial != null) {
        cache.abandon(partial, cause);
      }
    }
  }

  private CompletableFuture<PartialBlob> download(Route route, Digest digest) {
    if (cache.contains(digest)) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<PartialBlob> started =
        new BlobDownload(route.upstream().client(), route.repository(), digest, cache, timer).start();
    started.thenAccept(partial -> partial.finished().whenComplete(
        (path, failure) -> downloads.asMap().remove(digest, started)));
    return started;
  }

  private static BlobSource stored(FileChannel channel) {
    try {
      return new BlobSource.Stored(channel, channel.size());
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException(e);
    }
  }

  private static CompletableFuture<Long> sizeOf(BlobSource source) {
    if (source instanceof BlobSource.Stored stored) {
      closeQuietly(stored.channel());
      return CompletableFuture.completedFuture(stored.size());
    }
    PartialBlob partial = ((BlobSource.Downloading) source).partial();
    if (partial.expectedSize() >= 0) {
      return CompletableFuture.completedFuture(partial.expectedSize());
    }
    return partial.finished().thenApply(path -> partial.written());
  }

  private static RegistryException notCached(Digest digest) {
    return new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob " + digest + " is not cached");
  }

  private static void closeQuietly(FileChannel channel) {
    try {
      channel.close();
    } catch (IOException ignored) {
      // Closing a read-only channel cannot lose data.
    }
  }
}
