package io.cistern.cache;

import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The byte cap: bytes stored plus bytes reserved by downloads under way never exceed it.
 *
 * <p>A download of known size reserves its bytes before its body is written. If they do not fit,
 * it waits in a FIFO queue and the evictor is poked; the evictor admits waiters after each pass,
 * once room was made. A waiter that is not admitted within the timeout is refused (503), so a
 * burst of large cold pulls queues instead of overshooting the disk.
 *
 * <p>Concurrency: {@code stored} and {@code reserved} are atomics read without a lock; the queue
 * is guarded by this object's monitor, held only for in-memory bookkeeping and never while a
 * waiter's future completes (its continuation could be anything).
 */
final class DiskBudget {

  private record Waiter(long bytes, CompletableFuture<Reservation> admitted) {}

  private final long maxBytes;
  private final long lowWaterBytes;
  private final Duration waitTimeout;
  private final Runnable pokeEvictor;
  private final AtomicLong stored = new AtomicLong();
  private final AtomicLong reserved = new AtomicLong();
  private final AtomicLong entries = new AtomicLong();
  private final ArrayDeque<Waiter> waiting = new ArrayDeque<>();
  private long waitingBytes;

  DiskBudget(long maxBytes, long lowWaterBytes, Duration waitTimeout, Runnable pokeEvictor) {
    this.maxBytes = maxBytes;
    this.lowWaterBytes = lowWaterBytes;
    this.waitTimeout = waitTimeout;
    this.pokeEvictor = pokeEvictor;
  }

  void initialise(long storedBytes, long storedEntries) {
    stored.set(storedBytes);
    entries.set(storedEntries);
  }

  /** Claims {@code bytes}, at once when they fit, else after the evictor has made room. */
  CompletableFuture<Reservation> reserve(long bytes) {
    if (bytes > maxBytes) {
      return CompletableFuture.failedFuture(new RegistryException(ErrorCode.UNAVAILABLE, 507,
          "blob of " + bytes + " bytes is larger than the whole cache (" + maxBytes + " bytes)", null, null));
    }
    Waiter waiter;
    synchronized (this) {
      if (waiting.isEmpty() && fits(bytes)) {
        reserved.addAndGet(bytes);
        return CompletableFuture.completedFuture(new Reservation(this, bytes));
      }
      waiter = new Waiter(bytes, new CompletableFuture<>());
      waiting.addLast(waiter);
      waitingBytes += bytes;
    }
    pokeEvictor.run();
    waiter.admitted.orTimeout(waitTimeout.toMillis(), TimeUnit.MILLISECONDS).whenComplete((reservation, failure) -> {
      if (failure != null) {
        withdraw(waiter);
      }
    });
    return waiter.admitted.exceptionallyCompose(failure -> CompletableFuture.failedFuture(
        new RegistryException(ErrorCode.UNAVAILABLE, 503, "the cache is full; no room was freed in time", waitTimeout, null)));
  }

  /** Admits queued downloads, oldest first, while they fit. Called by the evictor after a pass. */
  void admitWaiting() {
    List<Waiter> admitted = new ArrayList<>();
    synchronized (this) {
      while (!waiting.isEmpty() && fits(waiting.peekFirst().bytes)) {
        Waiter next = waiting.pollFirst();
        waitingBytes -= next.bytes;
        reserved.addAndGet(next.bytes);
        admitted.add(next);
      }
    }
    for (Waiter waiter : admitted) {
      if (!waiter.admitted.complete(new Reservation(this, waiter.bytes))) {
        // Timed out just before admission: give the bytes back.
        reserved.addAndGet(-waiter.bytes);
      }
    }
  }

  private void withdraw(Waiter waiter) {
    synchronized (this) {
      if (waiting.remove(waiter)) {
        waitingBytes -= waiter.bytes;
      }
    }
  }

  /** Moves a reservation's bytes to stored (as {@code storedBytes}) or back to free. */
  void settle(long reservedBytes, long storedBytes) {
    // Stored first: the sum may briefly count both, never neither, so the cap stays conservative.
    stored.addAndGet(storedBytes);
    reserved.addAndGet(-reservedBytes);
  }

  /** Records bytes stored without a reservation (manifests, downloads of unknown size). */
  void addStored(long bytes) {
    stored.addAndGet(bytes);
  }

  void countEntry(long delta) {
    entries.addAndGet(delta);
  }

  void removeStored(long bytes) {
    stored.addAndGet(-bytes);
    entries.decrementAndGet();
  }

  /** Bytes that must fit under the cap: stored, reserved, and asked for by queued downloads. */
  synchronized long demand() {
    return stored.get() + reserved.get() + waitingBytes;
  }

  boolean overHighWater() {
    return demand() > maxBytes;
  }

  boolean overLowWater() {
    return demand() > lowWaterBytes;
  }

  synchronized boolean hasWaiters() {
    return !waiting.isEmpty();
  }

  long storedBytes() {
    return stored.get();
  }

  long reservedBytes() {
    return reserved.get();
  }

  long entries() {
    return entries.get();
  }

  long maxBytes() {
    return maxBytes;
  }

  long lowWaterBytes() {
    return lowWaterBytes;
  }

  private boolean fits(long bytes) {
    return stored.get() + reserved.get() + bytes <= maxBytes;
  }
}
