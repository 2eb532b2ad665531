package io.cistern.cache;

import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * The byte cap: bytes stored plus bytes reserved by downloads under way never exceed it.
 *
 * <p>A download of known size reserves its bytes before its body is written. If they do not fit,
 * it waits in a FIFO queue and the evictor is poked; the evictor admits waiters after each pass,
 * once room was made. A waiter that is not admitted within the timeout is refused (503), so a
 * burst of large cold pulls queues instead of overshooting the disk. A blob larger than the whole
 * cap can never fit and is refused at once (507).
 *
 * <p>Bytes stored without a reservation (manifests, downloads of unknown size) are counted when
 * they land and can push the total over the cap until the next pass; reserved bytes cannot.
 *
 * <p>Concurrency: every counter and the queue are guarded by this object's monitor, held only for
 * in-memory arithmetic, so the totals are always read consistently. A waiter's future is completed
 * outside the monitor, and whatever the caller chained to it runs on {@code callbacks}, never on
 * the evictor thread or the JDK's timeout thread, which must not be held up by a download's work.
 */
final class DiskBudget {

  private record Waiter(long bytes, CompletableFuture<Reservation> admitted) {}

  private final long maxBytes;
  private final long lowWaterBytes;
  private final Duration waitTimeout;
  private final Runnable pokeEvictor;
  private final Executor callbacks;
  private final ArrayDeque<Waiter> waiting = new ArrayDeque<>();
  private long stored;
  private long reserved;
  private long entries;
  private long waitingBytes;
  private long peakBytes;
  private long refusedReservations;

  DiskBudget(long maxBytes, long lowWaterBytes, Duration waitTimeout, Runnable pokeEvictor, Executor callbacks) {
    this.maxBytes = maxBytes;
    this.lowWaterBytes = lowWaterBytes;
    this.waitTimeout = waitTimeout;
    this.pokeEvictor = pokeEvictor;
    this.callbacks = callbacks;
  }

  synchronized void initialise(long storedBytes, long storedEntries) {
    stored = storedBytes;
    entries = storedEntries;
    notePeak();
  }

  /** Claims {@code bytes}, at once when they fit, else after the evictor has made room. */
  CompletableFuture<Reservation> reserve(long bytes) {
    if (bytes > maxBytes) {
      synchronized (this) {
        refusedReservations++;
      }
      return CompletableFuture.failedFuture(new RegistryException(ErrorCode.UNAVAILABLE, 507,
          "blob of " + bytes + " bytes is larger than the whole cache (" + maxBytes + " bytes)", null, null));
    }
    Waiter waiter;
    synchronized (this) {
      if (waiting.isEmpty() && fits(bytes)) {
        reserved += bytes;
        notePeak();
        return CompletableFuture.completedFuture(new Reservation(this, bytes));
      }
      waiter = new Waiter(bytes, new CompletableFuture<>());
      waiting.addLast(waiter);
      waitingBytes += bytes;
    }
    pokeEvictor.run();
    return waiter.admitted.orTimeout(waitTimeout.toMillis(), TimeUnit.MILLISECONDS)
        .handleAsync((reservation, failure) -> {
          if (failure == null) {
            return CompletableFuture.completedFuture(reservation);
          }
          withdraw(waiter);
          return CompletableFuture.<Reservation>failedFuture(new RegistryException(ErrorCode.UNAVAILABLE, 503,
              "the cache is full and no room for " + bytes + " bytes was freed within " + waitTimeout, waitTimeout, null));
        }, callbacks)
        .thenCompose(outcome -> outcome);
  }

  /** Admits queued downloads, oldest first, while they fit. Called after a pass or a release. */
  void admitWaiting() {
    List<Waiter> admitted = new ArrayList<>();
    synchronized (this) {
      while (!waiting.isEmpty() && fits(waiting.peekFirst().bytes)) {
        Waiter next = waiting.pollFirst();
        waitingBytes -= next.bytes;
        reserved += next.bytes;
        admitted.add(next);
      }
      notePeak();
    }
    for (Waiter waiter : admitted) {
      if (!waiter.admitted.complete(new Reservation(this, waiter.bytes))) {
        // Timed out just before admission: give the bytes back.
        settle(waiter.bytes, 0);
      }
    }
  }

  /** A timed-out waiter leaves the queue; the one behind it may fit now. */
  private void withdraw(Waiter waiter) {
    synchronized (this) {
      refusedReservations++;
      if (waiting.remove(waiter)) {
        waitingBytes -= waiter.bytes;
      }
    }
    admitWaiting();
  }

  /** Moves a reservation's bytes to stored (as {@code storedBytes}) or back to free. */
  synchronized void settle(long reservedBytes, long storedBytes) {
    stored += storedBytes;
    reserved -= reservedBytes;
    notePeak();
  }

  /** Records bytes stored without a reservation (manifests, downloads of unknown size). */
  synchronized void addStored(long bytes) {
    stored += bytes;
    notePeak();
  }

  synchronized void countEntry(long delta) {
    entries += delta;
  }

  /** An evicted blob's bytes are free. */
  synchronized void removeStored(long bytes) {
    stored -= bytes;
    entries--;
  }

  /** Bytes that must fit under the cap: stored, reserved, and asked for by queued downloads. */
  synchronized long demand() {
    return stored + reserved + waitingBytes;
  }

  /** Whether a pass is due: over the cap, or a download is waiting for room. */
  synchronized boolean needsEviction() {
    return demand() > maxBytes || !waiting.isEmpty();
  }

  synchronized long storedBytes() {
    return stored;
  }

  synchronized long reservedBytes() {
    return reserved;
  }

  synchronized long entries() {
    return entries;
  }

  synchronized int waitingReservations() {
    return waiting.size();
  }

  /** The most bytes ever stored plus reserved at once. */
  synchronized long peakBytes() {
    return peakBytes;
  }

  /** Reservations refused: larger than the cap, or not admitted in time. */
  synchronized long refusedReservations() {
    return refusedReservations;
  }

  long maxBytes() {
    return maxBytes;
  }

  long lowWaterBytes() {
    return lowWaterBytes;
  }

  private boolean fits(long bytes) {
    return stored + reserved + bytes <= maxBytes;
  }

  private void notePeak() {
    peakBytes = Math.max(peakBytes, stored + reserved);
  }
}
