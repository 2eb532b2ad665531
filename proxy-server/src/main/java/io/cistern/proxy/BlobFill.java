package io.cistern.proxy;

import io.cistern.cache.BlobCache;
import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.FillSource;
import io.cistern.cache.Ingest;
import io.cistern.cache.LocalStorageException;
import io.cistern.oci.Digest;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.UpstreamErrors;
import java.io.IOException;
import java.util.Iterator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One fill of a blob the local tier misses: where its bytes come from. The origins are tried in
 * order (the bucket, then the members ranked above this one, see {@link BlobOrigins}) until one
 * has given every byte; all of them write into one {@link Ingest}, created with the size the
 * first of them announces, and each resumes where the one before stopped, so the clients that
 * follow the ingest never see the change. The upstream download comes last, and when it is
 * reached it takes the ingest over to its end (publication or abandonment, with its own retries).
 *
 * <p>An origin that does not hold the blob, cannot be reached, or cuts its answer hands over to
 * the next. What ends the fill at once: the cache refusing the blob or failing to write it (no
 * other origin would mend that), and a refusal an origin learnt from the upstream (403, 404),
 * which every origin would give.
 *
 * <p>Threads: an origin is started only once the one before has ended (its future completed and,
 * if it was still claiming room, that claim settled), so the fill's state is only ever touched by
 * one thread at a time, handed over through those futures.
 */
final class BlobFill {

  private static final Logger log = LoggerFactory.getLogger(BlobFill.class);

  /** One place the blob's bytes may come from, before the upstream. */
  interface Origin {
    /**
     * Appends the blob's bytes from {@link BlobFill#written()} on into {@link BlobFill#ingestFor}'s
     * ingest: true once every byte is in, false when this origin does not hold the blob (nothing
     * was written); fails when it was cut or could not be reached.
     */
    CompletableFuture<Boolean> fill(BlobFill fill);

    /** Where this origin's bytes come from, as {@code cistern_served_bytes_total} labels it: the bucket, a member. */
    FillSource source();
  }

  private final Digest digest;
  private final BlobCache cache;
  private final Executor executor;
  private final Iterator<Origin> origins;
  private final Function<Ingest, CompletableFuture<Ingest>> upstream;
  private final Function<Throwable, RuntimeException> nowhere;
  private final CompletableFuture<Ingest> started = new CompletableFuture<>();
  private volatile Ingest ingest;
  private volatile CompletableFuture<Ingest> preparing;
  private Throwable lastFailure;
  /** The label of the origin filling now, which a new ingest takes (see {@link io.cistern.cache.GrowingBlob#source()}). */
  private volatile FillSource source = FillSource.UPSTREAM;

  /**
   * @param executor where an origin's end is handled (publication syncs and renames a file)
   * @param upstream starts the upstream download, resuming into the ingest so far (null when no
   *     origin began one), and completes once its bytes can be followed; null when the upstream
   *     may not be asked (offline)
   * @param nowhere the failure when no origin had the blob and the upstream may not be asked,
   *     given the last origin's failure (or null)
   */
  BlobFill(Digest digest, BlobCache cache, Executor executor, Iterator<Origin> origins,
      Function<Ingest, CompletableFuture<Ingest>> upstream, Function<Throwable, RuntimeException> nowhere) {
    this.digest = digest;
    this.cache = cache;
    this.executor = executor;
    this.origins = origins;
    this.upstream = upstream;
    this.nowhere = nowhere;
  }

  /** Starts the fill; the future completes once its bytes can be followed. */
  CompletableFuture<Ingest> start() {
    next();
    return started;
  }

  Digest digest() {
    return digest;
  }

  /** Bytes in the ingest so far: where the next origin resumes. */
  long written() {
    Ingest current = ingest;
    return current == null ? 0 : current.written();
  }

  /** The ingest so far, or null before any origin announced the size. */
  Ingest ingest() {
    return ingest;
  }

  /**
   * The ingest an origin writes into: the one under way, or a new one for {@code size} bytes (room
   * claimed, temp file created; -1 when the size is unknown), which lets the clients in.
   */
  CompletableFuture<Ingest> ingestFor(long size) {
    Ingest current = ingest;
    if (current != null) {
      return CompletableFuture.completedFuture(current);
    }
    CompletableFuture<Ingest> claim = cache.ingest(digest, size).thenApply(begun -> {
      begun.followers().source(source);
      ingest = begun;
      started.complete(begun);
      return begun;
    });
    preparing = claim;
    return claim;
  }

  private void next() {
    if (!origins.hasNext()) {
      handOver();
      return;
    }
    Origin origin = origins.next();
    labelled(origin.source());
    CompletableFuture<Boolean> attempt;
    try {
      attempt = origin.fill(this);
    } catch (RuntimeException e) {
      attempt = CompletableFuture.failedFuture(e);
    }
    attempt.whenCompleteAsync(this::ended, executor);
  }

  private void ended(Boolean complete, Throwable failure) {
    CompletableFuture<Ingest> claim = preparing;
    if (claim != null && !claim.isDone()) {
      // The origin ended while room was still being claimed: decide once that has settled.
      claim.whenCompleteAsync((ignored, alsoIgnored) -> ended(complete, failure), executor);
      return;
    }
    Ingest current = ingest;
    if (current != null && current.followers().finished().isDone()) {
      // Abandoned from outside (a stop that could wait no longer): nothing to carry on.
      return;
    }
    if (failure == null) {
      if (complete) {
        publish(current);
      } else {
        next();
      }
      return;
    }
    Throwable decisive = finalFailure(failure);
    if (decisive != null) {
      giveUp(decisive);
      return;
    }
    lastFailure = failure;
    next();
  }

  private void publish(Ingest complete) {
    try {
      complete.publish();
    } catch (IOException | RuntimeException e) {
      if (LocalStorageException.in(e).isEmpty()) {
        log.warn("discarded {}: {}", digest, e.getMessage());
      }
    }
  }

  /** The upstream download takes over the ingest so far, or, offline, the fill ends. */
  private void handOver() {
    if (upstream == null) {
      giveUp(nowhere.apply(lastFailure));
      return;
    }
    labelled(FillSource.UPSTREAM);
    upstream.apply(ingest).whenComplete((begun, failure) -> {
      if (failure != null) {
        started.completeExceptionally(failure);
      } else {
        begun.followers().source(FillSource.UPSTREAM);
        started.complete(begun);
      }
    });
  }

  /** The origin about to fill: the ingest so far (if any) and any created from now on say so. */
  private void labelled(FillSource origin) {
    source = origin;
    Ingest current = ingest;
    if (current != null) {
      current.followers().source(origin);
    }
  }

  /**
   * What ends the fill without asking the next origin: the cache's own refusal or failure, bytes
   * that do not fit the blob, or an upstream's refusal an origin passed on; null for a failure of
   * the origin alone.
   */
  private Throwable finalFailure(Throwable failure) {
    CompletableFuture<Ingest> claim = preparing;
    if (claim != null && claim.isCompletedExceptionally() && ingest == null) {
      return StoreErrors.notTaken(digest, claim.handle((ignored, refused) -> refused).join());
    }
    if (LocalStorageException.in(failure).isPresent()) {
      return failure;
    }
    for (Throwable below = failure; below != null; below = below.getCause()) {
      if (below instanceof ContentMismatchException) {
        return below;
      }
    }
    Throwable cause = UpstreamErrors.unwrap(failure);
    if (cause instanceof RegistryException refusal && (refusal.status() == 403 || refusal.status() == 404)) {
      return refusal;
    }
    return null;
  }

  private void giveUp(Throwable cause) {
    Ingest current = ingest;
    if (current == null) {
      started.completeExceptionally(cause);
    } else {
      log.warn("fill of {} failed at byte {}: {}", digest, current.written(), cause.toString());
      current.abandon(cause);
    }
  }
}
