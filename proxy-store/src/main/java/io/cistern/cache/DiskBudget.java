package io.cistern.cache;

import java.io.IOException;
import java.nio.file.FileStore;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The byte cap: bytes stored plus bytes reserved by downloads under way never exceed it.
 *
 * <p>A download of known size reserves its bytes before its body is written. If they do not fit,
 * it waits in a FIFO queue and the evictor is poked; the evictor admits waiters after each pass,
 * once room was made. A waiter that is not admitted within the timeout is refused
 * ({@link NoRoomException}), so a burst of large cold pulls queues instead of overshooting the
 * disk. A blob larger than the whole cap can never fit and is refused at once
 * ({@link TooLargeForCacheException}).
 *
 * <p>The cap is not the disk: other files share it, and a cap set larger than the disk can never
 * be reached. So a reservation also checks the file system's free space ({@code statvfs}), less
 * the bytes of reservations not yet written, against {@code minFreeBytes} (cache.minFreeDisk, the
 * threshold readiness uses too). A download that would cross it is refused at once
 * ({@link NoRoomOnDiskException}), before its client sees a header: waiting would not help, since eviction frees space only down
 * to the cap, and a mirror client fetches the blob from the upstream itself. Bytes written count
 * against free space as they land ({@link Reservation#wrote}), not twice.
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

  private static final Logger log = LoggerFactory.getLogger(DiskBudget.class);

  private record Waiter(long bytes, CompletableFuture<Reservation> admitted) {}

  private final long maxBytes;
  private final long lowWaterBytes;
  private final Duration waitTimeout;
  private final Runnable pokeEvictor;
  private final Executor callbacks;
  private final FileStore disk;
  private final long minFreeBytes;
  /** Reserved bytes not written yet: free space still to be taken. Updated by writers without the monitor. */
  private final AtomicLong unwritten = new AtomicLong();
  private final FailureEpisode lowOnDisk = new FailureEpisode();
  private final ArrayDeque<Waiter> waiting = new ArrayDeque<>();
  private long stored;
  private long reserved;
  private long entries;
  private long waitingBytes;
  private long peakBytes;
  private long refusedReservations;

  /**
   * @param disk the file system the cache's files are on
   * @param minFreeBytes free space no reservation may take
   */
  DiskBudget(long maxBytes, long lowWaterBytes, Duration waitTimeout, Runnable pokeEvictor, Executor callbacks,
      FileStore disk, long minFreeBytes) {
    this.maxBytes = maxBytes;
    this.lowWaterBytes = lowWaterBytes;
    this.waitTimeout = waitTimeout;
    this.pokeEvictor = pokeEvictor;
    this.callbacks = callbacks;
    this.disk = disk;
    this.minFreeBytes = minFreeBytes;
  }

  void initialise(long storedBytes, long storedEntries) {
    synchronized (this) {
      stored = storedBytes;
      entries = storedEntries;
      notePeak();
    }
    try {
      long reachable = storedBytes + disk.getUsableSpace() - minFreeBytes;
      if (reachable < maxBytes) {
        log.warn("cache.maxBytes ({} bytes) is more than this file system can hold for the cache ({} bytes, keeping "
            + "cache.minFreeDisk free): once it is short of space, new blobs are refused (507) before the cap is reached",
            maxBytes, Math.max(0, reachable));
      }
    } catch (IOException e) {
      log.warn("cannot read the free space of the cache's file system: {}", e.getMessage());
    }
  }

  /** Claims {@code bytes}, at once when they fit, else after the evictor has made room. */
  CompletableFuture<Reservation> reserve(long bytes) {
    if (bytes > maxBytes) {
      synchronized (this) {
        refusedReservations++;
      }
      return CompletableFuture.failedFuture(new TooLargeForCacheException(bytes, maxBytes));
    }
    NoRoomOnDiskException noRoom = noRoomOnDisk(bytes);
    if (noRoom != null) {
      synchronized (this) {
        refusedReservations++;
      }
      return CompletableFuture.failedFuture(noRoom);
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
          return CompletableFuture.<Reservation>failedFuture(new NoRoomException(bytes, waitTimeout));
        }, callbacks)
        .thenCompose(outcome -> outcome);
  }

  /** Refuses when the file system is below {@code minFreeBytes} already: nothing new could be stored. */
  void requireFreeDisk() {
    NoRoomOnDiskException noRoom = noRoomOnDisk(0);
    if (noRoom != null) {
      throw noRoom;
    }
  }

  /**
   * The refusal when writing {@code bytes} more would leave less than {@code minFreeBytes} free, or
   * null when they fit. One {@code statvfs}, outside the monitor. Two downloads checking at once may
   * both pass on the same free bytes; what they cross by is bounded by what is under way, and the
   * next check sees it.
   */
  private NoRoomOnDiskException noRoomOnDisk(long bytes) {
    long usable;
    try {
      usable = disk.getUsableSpace();
    } catch (IOException e) {
      return new NoRoomOnDiskException("cannot read the free space of the cache's file system: " + e.getMessage(), e);
    }
    long promised = unwritten.get();
    if (usable - promised - bytes >= minFreeBytes) {
      if (lowOnDisk.succeeded()) {
        log.info("the cache's file system has room again ({} bytes free): new blobs are cached again", usable);
      }
      return null;
    }
    String what = bytes > 0 ? "a blob of " + bytes + " bytes" : "new blobs";
    if (lowOnDisk.failed()) {
      log.warn("the cache's file system has no room for {}: {} bytes free, {} promised to downloads under way, "
          + "cache.minFreeDisk keeps {} free. Blobs that do not fit are refused (507), not cached; cached content is "
          + "still served. Logged again once blobs fit again", what, usable, promised, minFreeBytes);
    }
    return new NoRoomOnDiskException("the cache's disk has no room for " + what + " (" + usable + " bytes free, "
        + minFreeBytes + " kept free): it is not cached; fetch it from the upstream", null);
  }

  /** Reserved bytes that are still to be written. */
  void willWrite(long bytes) {
    unwritten.addAndGet(bytes);
  }

  /** Reserved bytes that reached the disk, or that never will (the reservation was settled). */
  void wrote(long bytes) {
    unwritten.addAndGet(-bytes);
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
      Reservation reservation = new Reservation(this, waiter.bytes);
      if (!waiter.admitted.complete(reservation)) {
        // Timed out just before admission: give the bytes back.
        reservation.release();
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

  /** Reservations refused: larger than the cap, no room on the disk, or not admitted in time. */
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
