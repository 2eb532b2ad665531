package io.cistern.proxy;

import io.cistern.cache.BlobCache;
import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.Ingest;
import io.cistern.cache.LocalStorageException;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.RetryCause;
import io.cistern.upstream.UpstreamErrors;
import io.cistern.upstream.UpstreamObserver;
import java.io.IOException;
import java.net.http.HttpResponse.ResponseInfo;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One upstream download of one blob into the cache. The first response's headers give the size;
 * the cache is asked for an {@link Ingest} of it (room claimed, temp file created), and
 * {@link #start}'s future completes, so clients can follow the bytes as they land. A refusal of
 * room becomes the clients' 503 or 507 ({@link StoreErrors}). Success publishes the blob; any
 * other end abandons it, failing its readers before their responses could look complete.
 *
 * <p>Retries. A connection that cannot be made, breaks or stalls ({@link RetryCause#isConnectionFailure})
 * is tried again after a jittered, growing wait ({@link Backoff}), for as long as the upstream's
 * {@code retryWindow}, counted from the first failure since the download last received bytes:
 * an attempt that brings bytes ends the outage. Each attempt resumes with a {@code Range} request
 * from the bytes already written (or restarts and prefix-checks when the upstream ignores
 * ranges). Clients wait meanwhile: those not answered yet get their headers once an attempt
 * gets through, those following the body get the rest of it. An upstream's error answer, which
 * its client has retried already, is retried here only for clients following the body (at most
 * {@code maxRetries} times, within the window); before that, it is the clients' answer.
 * {@link #retryCause} alone decides what is worth retrying: never a failure to write the cache's
 * own disk ({@link LocalStorageException}), which is not the upstream's (the bytes would only meet
 * the same full disk), and which the cache logs.
 *
 * <p>Threads: attempts run one after another (an attempt's end schedules the next), so the retry
 * state is only ever touched by one thread at a time, each handing over through the timer or the
 * HTTP client's futures.
 */
final class BlobDownload {

  private static final Logger log = LoggerFactory.getLogger(BlobDownload.class);

  private final RegistryClient client;
  private final RepositoryName repository;
  private final Digest digest;
  private final BlobCache cache;
  private final ScheduledExecutorService timer;
  private final UpstreamObserver observer;
  private final Backoff backoff;
  private final CompletableFuture<Ingest> started = new CompletableFuture<>();
  private volatile CompletableFuture<Ingest> preparation;
  private volatile Ingest ingest;
  private long outageStartedNanos;
  private int failuresInOutage;
  private int answersRetried;
  private int retries;

  /** @param observer told about each retry (metrics) */
  BlobDownload(RegistryClient client, RepositoryName repository, Digest digest, BlobCache cache,
      ScheduledExecutorService timer, UpstreamObserver observer) {
    this.client = client;
    this.repository = repository;
    this.digest = digest;
    this.cache = cache;
    this.timer = timer;
    this.observer = observer;
    this.backoff = new Backoff(client.retryBackoff());
  }

  /** Starts the download; the future completes once its bytes can be followed. */
  CompletableFuture<Ingest> start() {
    attempt();
    return started;
  }

  private void attempt() {
    Ingest current = ingest;
    if (current != null && current.followers().finished().isDone()) {
      // Abandoned from outside (a stop that could wait no longer) while waiting to retry.
      return;
    }
    long offset = current == null ? 0 : current.written();
    MessageDigest prefix = offset > 0 ? current.hashSoFar() : null;
    client.getBlob(repository, digest, offset, info -> sinkFor(info, offset, prefix))
        .whenComplete((response, failure) -> finish(offset, failure));
  }

  private DownloadSink sinkFor(ResponseInfo info, long offset, MessageDigest prefix) {
    CompletableFuture<Ingest> ready;
    if (info.statusCode() == 206 && !resumesAt(info, offset)) {
      ready = CompletableFuture.failedFuture(new IOException("upstream answered a different range than asked for"));
    } else if (ingest != null) {
      ready = CompletableFuture.completedFuture(ingest);
    } else {
      ready = prepare(info.headers().firstValueAsLong("Content-Length").orElse(-1));
      preparation = ready;
    }
    long skip = offset > 0 && info.statusCode() == 200 ? offset : 0;
    return new DownloadSink(ready, skip, skip > 0 ? prefix : null, client.settings().idleTimeout(), timer);
  }

  /** Asks the cache for the ingest (room, temp file), and lets the waiting clients in. */
  private CompletableFuture<Ingest> prepare(long size) {
    return cache.ingest(digest, size).handle((begun, failure) -> {
      if (failure != null) {
        throw refused(failure);
      }
      ingest = begun;
      started.complete(begun);
      return begun;
    });
  }

  /** What the clients are told when the cache would not take the download. */
  private RegistryException refused(Throwable failure) {
    Throwable cause = UpstreamErrors.unwrap(failure);
    RegistryException refusal = StoreErrors.refusal(cause);
    if (refusal != null) {
      return refusal;
    }
    if (cause instanceof LocalStorageException local) {
      return StoreErrors.notStored(digest.toString(), local);
    }
    return new RegistryException(ErrorCode.UNAVAILABLE, 503, "cannot write to the cache", null, cause);
  }

  /** Ends the attempt that began at byte {@code offset}: publishes, retries, or gives up. */
  private void finish(long offset, Throwable failure) {
    CompletableFuture<Ingest> preparing = preparation;
    if (preparing != null && !preparing.isDone()) {
      // The body ended while room was still being reserved: decide once that has settled.
      preparing.whenComplete((ignored, alsoIgnored) -> finish(offset, failure));
      return;
    }
    Ingest current = ingest;
    if (failure == null) {
      try {
        // Followers are released once verified; storing happens after, off this thread. A full
        // disk is logged once by the cache; anything else that kept the blob out, here.
        current.publish().whenComplete((stored, notStored) -> {
          if (notStored != null && LocalStorageException.in(notStored).isEmpty()) {
            log.warn("verified {} from {} but could not store it: {}", digest, client.host(), notStored.toString());
          }
        });
      } catch (IOException | RuntimeException e) {
        if (LocalStorageException.in(e).isEmpty()) {
          log.warn("discarded {} from {}: {}", digest, client.host(), e.getMessage());
        }
      }
      return;
    }
    if (current != null && current.followers().finished().isDone()) {
      // Abandoned from outside (a stop that could wait no longer), reservation and all: there is
      // nothing to resume.
      return;
    }
    RetryCause cause = retryCause(failure);
    Duration wait = cause == null ? null : nextWait(cause, current != null && current.written() > offset);
    if (wait != null && retryAfter(wait)) {
      retries++;
      observer.retrying(client.host(), cause, wait);
      log.info("download of {} from {}: {} at byte {}, retrying in {} ms", digest, client.host(), cause.label(),
          current == null ? 0 : current.written(), wait.toMillis());
      return;
    }
    giveUp(current, failure);
  }

  /**
   * Why {@code failure} is worth another attempt, or null when no attempt would mend it. This is
   * the one place that decides what a download retries.
   */
  private RetryCause retryCause(Throwable failure) {
    CompletableFuture<Ingest> preparing = preparation;
    if (preparing != null && preparing.isCompletedExceptionally()) {
      // No room for the blob, or no temp file: the cache failed, and no upstream attempt mends it.
      return null;
    }
    if (LocalStorageException.in(failure).isPresent()) {
      return null;
    }
    // The client reports a failed body as a 502 whose cause is what the sink threw: look below it.
    for (Throwable below = failure; below != null; below = below.getCause()) {
      if (below instanceof ContentMismatchException) {
        return null;
      }
    }
    RetryCause connection = RetryCause.ofConnectionFailure(failure);
    if (connection != null) {
      return connection;
    }
    // An upstream's answer is an exception of the client's own, with no cause below it.
    Throwable cause = UpstreamErrors.unwrap(failure);
    return cause instanceof RegistryException answer && answer.getCause() == null
        ? RetryCause.ofStatus(answer.status())
        : null;
  }

  /**
   * How long to wait before retrying a failure for {@code cause}, or null to give up: when the
   * outage has lasted the retry window, or an answer may not be retried (again).
   *
   * @param progressed whether the failed attempt wrote bytes, which ends any outage before it
   */
  private Duration nextWait(RetryCause cause, boolean progressed) {
    long now = System.nanoTime();
    if (failuresInOutage == 0 || progressed) {
      outageStartedNanos = now;
      failuresInOutage = 0;
    }
    Duration left = client.settings().retryWindow().minusNanos(now - outageStartedNanos);
    if (left.isNegative() || left.isZero()) {
      return null;
    }
    if (!cause.isConnectionFailure()) {
      if (ingest == null || answersRetried >= client.settings().maxRetries()) {
        return null;
      }
      answersRetried++;
    }
    Duration wait = backoff.delay(failuresInOutage++);
    // The last attempt goes out as the window closes, not after it.
    return wait.compareTo(left) < 0 ? wait : left;
  }

  /** Schedules the next attempt; false when the timer takes no more work (Cistern is stopping). */
  private boolean retryAfter(Duration wait) {
    try {
      timer.schedule(this::attempt, wait.toNanos(), TimeUnit.NANOSECONDS);
      return true;
    } catch (RejectedExecutionException stopping) {
      return false;
    }
  }

  private void giveUp(Ingest current, Throwable failure) {
    Throwable cause = UpstreamErrors.unwrap(failure);
    if ((current != null || retries > 0) && LocalStorageException.in(cause).isEmpty()) {
      log.warn("download of {} from {} failed at byte {} after {} retries: {}", digest, client.host(),
          current == null ? 0 : current.written(), retries, cause.toString());
    }
    if (current == null) {
      // No download began: room claimed for it was given back by the cache as it failed.
      started.completeExceptionally(UpstreamErrors.forFailure(client.host(), cause));
      return;
    }
    current.abandon(cause);
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
