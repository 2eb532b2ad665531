package io.cistern.proxy;

import io.cistern.cache.BlobCache;
import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.LocalStorageException;
import io.cistern.cache.PartialBlob;
import io.cistern.cache.Reservation;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.UpstreamErrors;
import java.io.IOException;
import java.net.http.HttpResponse.ResponseInfo;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ScheduledExecutorService;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream download of one blob into the cache. The first response's headers give the size;
 * room is reserved for it, the temp file is created, and {@link #start}'s future completes, so
 * clients can follow the bytes as they land. A connection that drops mid-body is resumed with a
 * {@code Range} request from the bytes already written (or restarted and prefix-checked when the
 * upstream ignores ranges), up to the upstream's retry limit. Success publishes the blob; any
 * other end abandons it, failing its readers before their responses could look complete.
 *
 * <p>A failure to write the cache's own disk ({@link LocalStorageException}) is not the upstream's:
 * it is never retried (the bytes would only meet the same full disk), and the cache logs it.
 */
final class BlobDownload {

  private static final Logger log = LoggerFactory.getLogger(BlobDownload.class);

  private final RegistryClient client;
  private final RepositoryName repository;
  private final Digest digest;
  private final BlobCache cache;
  private final ScheduledExecutorService timer;
  private final CompletableFuture<PartialBlob> started = new CompletableFuture<>();
  private volatile CompletableFuture<PartialBlob> preparation;
  private volatile PartialBlob partial;

  BlobDownload(RegistryClient client, RepositoryName repository, Digest digest, BlobCache cache, ScheduledExecutorService timer) {
    this.client = client;
    this.repository = repository;
    this.digest = digest;
    this.cache = cache;
    this.timer = timer;
  }

  /** Starts the download; the future completes once its bytes can be followed. */
  CompletableFuture<PartialBlob> start() {
    attempt(0);
    return started;
  }

  private void attempt(int retry) {
    PartialBlob current = partial;
    long offset = current == null ? 0 : current.written();
    MessageDigest prefix = offset > 0 ? current.hashSoFar() : null;
    if (retry > 0) {
      log.info("resuming {} from {} at byte {} (retry {})", digest, client.host(), offset, retry);
    }
    client.getBlob(repository, digest, offset, info -> sinkFor(info, offset, prefix))
        .whenComplete((response, failure) -> finish(retry, failure));
  }

  private DownloadSink sinkFor(ResponseInfo info, long offset, MessageDigest prefix) {
    CompletableFuture<PartialBlob> ready;
    if (info.statusCode() == 206 && !resumesAt(info, offset)) {
      ready = CompletableFuture.failedFuture(new IOException("upstream answered a different range than asked for"));
    } else if (partial != null) {
      ready = CompletableFuture.completedFuture(partial);
    } else {
      ready = prepare(info.headers().firstValueAsLong("Content-Length").orElse(-1));
      preparation = ready;
    }
    long skip = offset > 0 && info.statusCode() == 200 ? offset : 0;
    return new DownloadSink(ready, skip, skip > 0 ? prefix : null, client.settings().idleTimeout(), timer);
  }

  /** Reserves room, creates the temp file, and lets the waiting clients in. */
  private CompletableFuture<PartialBlob> prepare(long size) {
    CompletableFuture<Reservation> room = size >= 0 ? cache.reserve(size) : CompletableFuture.completedFuture(null);
    return room.thenApply(claimed -> {
      try {
        // The partial owns the reservation from here: whoever ends the download settles it.
        partial = cache.begin(digest, size, claimed);
      } catch (LocalStorageException e) {
        throw new RegistryException(ErrorCode.UNAVAILABLE, 507, "the cache cannot store " + digest + " (" + e.getMessage()
            + "): it is not cached; fetch it from the upstream", null, e);
      } catch (IOException e) {
        throw new RegistryException(ErrorCode.UNAVAILABLE, 503, "cannot write to the cache", null, e);
      }
      started.complete(partial);
      return partial;
    });
  }

  private void finish(int retry, Throwable failure) {
    CompletableFuture<PartialBlob> preparing = preparation;
    if (preparing != null && !preparing.isDone()) {
      // The body ended while room was still being reserved: decide once that has settled.
      preparing.whenComplete((ignored, alsoIgnored) -> finish(retry, failure));
      return;
    }
    PartialBlob current = partial;
    if (failure == null) {
      try {
        cache.publish(current);
      } catch (IOException | RuntimeException e) {
        if (LocalStorageException.in(e).isEmpty()) {
          log.warn("discarded {} from {}: {}", digest, client.host(), e.getMessage());
        }
      }
      return;
    }
    Throwable cause = UpstreamErrors.unwrap(failure);
    if (current == null) {
      // No download began: a reservation taken for it was released by begin() as it failed.
      started.completeExceptionally(UpstreamErrors.forFailure(client.host(), cause));
      return;
    }
    if (current.finished().isDone()) {
      // Abandoned from outside (a stop that could wait no longer), reservation and all: there is
      // nothing to resume.
      return;
    }
    if (isRetryable(cause) && retry < client.settings().maxRetries()) {
      attempt(retry + 1);
      return;
    }
    if (LocalStorageException.in(cause).isEmpty()) {
      log.warn("download of {} from {} failed after {} bytes: {}", digest, client.host(), current.written(), cause.toString());
    }
    cache.abandon(current, cause);
  }

  /**
   * A dropped connection or a failing upstream is worth another attempt; content that cannot be the
   * blob is not, and neither is a disk that cannot take it.
   */
  private static boolean isRetryable(Throwable cause) {
    if (LocalStorageException.in(cause).isPresent()) {
      return false;
    }
    // The client reports a failed body as a 502 whose cause is what the sink threw: look below it.
    for (Throwable below = cause; below != null; below = below.getCause()) {
      if (below instanceof ContentMismatchException) {
        return false;
      }
    }
    if (cause instanceof RegistryException registryException) {
      return registryException.status() >= 500 || registryException.status() == 429;
    }
    return cause instanceof IOException;
  }

  /** A 206 whose {@code Content-Range} starts where we stopped continues the bytes we have. */
  private static boolean resumesAt(ResponseInfo info, long offset) {
    if (info.statusCode() != 206) {
      return false;
    }
    return info.headers().firstValue("Content-Range")
        .map(range -> range.trim().startsWith("bytes " + offset + "-"))
        .orElse(false);
  }
}
