package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The cache's one eviction thread, and its single writer of access times.
 *
 * <p>Stores that leave the cache over its cap (and downloads waiting for room) poke it through a
 * capacity-1 queue instead of each starting its own task: a burst of N stores leaves at most one
 * pending poke, so it costs one pass (or very few), not N. Every pass runs on the one connection
 * of the evictor's own pool, so it never holds more than one, never competes with request paths
 * for theirs, and cannot fail on a pool timeout however many stores queue for the request pool.
 *
 * <p>Why the cap still converges: a store pokes only after its bytes are counted, and a poke is
 * dropped only while another is pending, that is, offered but not yet taken. The evictor takes
 * the pending poke after the dropped one's store was counted, and only then reads the total, so
 * the pass it runs sees that store. Whatever the interleaving, the last store of a burst is
 * followed by a pass that sees the final total, and that pass evicts down to the low-water mark.
 *
 * <p>A pass evicts least recently used, unpinned blobs from the high-water mark (the cap) down to
 * the low-water mark, so a steady trickle of stores costs one pass per (cap - low water) bytes, not
 * one per store. Candidates are read in batches through the (pinned, last_access) index: a pass
 * costs what it frees, not what is cached. Access times buffered in memory are written first, and
 * a candidate touched since then is skipped, so what was used last stays. Rows go first, then
 * files: a reader that already holds a file keeps reading it after the unlink (an open file
 * survives it), and a crash between the two leaves only a file without a row, which recovery
 * adopts. Temp files of downloads in flight have no row, so a pass never sees them.
 *
 * <p>Its pokes and turns are told to an {@link EvictorObserver}, for those (tests, benchmarks)
 * who wait until it has caught up; its counters are in {@link CacheStats}.
 */
final class Evictor implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Evictor.class);
  private static final Duration SHUTDOWN_GRACE = Duration.ofSeconds(60);

  private final BlockingQueue<Boolean> pokes = new ArrayBlockingQueue<>(1);
  private final AtomicLong pokesMade = new AtomicLong();
  private final MetadataDatabase database;
  private final DiskTier blobs;
  private final DiskBudget budget;
  private final AccessTracker accesses;
  private final Duration flushInterval;
  private final Consumer<List<Digest>> onEvicted;
  private final EvictorObserver observer;
  private final Thread thread;
  private final AtomicLong passes = new AtomicLong();
  private final AtomicLong failedPasses = new AtomicLong();
  private final AtomicLong evictedBlobs = new AtomicLong();
  private final AtomicLong evictedBytes = new AtomicLong();
  private volatile boolean running = true;
  /** Passes failing because the database cannot be written (a full disk): logged once an episode. */
  private final FailureEpisode storageFailing = new FailureEpisode();

  /**
   * @param onEvicted told which digests a pass or a purge removed
   * @param observer told of pokes and turns
   */
  Evictor(MetadataDatabase database, DiskTier blobs, DiskBudget budget, AccessTracker accesses,
      Duration flushInterval, Consumer<List<Digest>> onEvicted, EvictorObserver observer) {
    this.database = database;
    this.blobs = blobs;
    this.budget = budget;
    this.accesses = accesses;
    this.flushInterval = flushInterval;
    this.onEvicted = onEvicted;
    this.observer = observer;
    // Named after its cache, so a thread dump tells the evictors of two caches apart.
    this.thread = new Thread(this::run, "cistern-evictor " + blobs.root());
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Asks for a pass; returns at once. A poke while one is pending is absorbed by it. */
  void poke() {
    observer.poked(pokesMade.incrementAndGet());
    pokes.offer(Boolean.TRUE);
  }

  /** Asks for a pass if the cache is over its cap; below it nothing is due, and the evictor stays asleep. */
  void pokeIfOverCap() {
    if (budget.needsEviction()) {
      poke();
    }
  }

  long passes() {
    return passes.get();
  }

  long failedPasses() {
    return failedPasses.get();
  }

  long evictedBlobs() {
    return evictedBlobs.get();
  }

  long evictedBytes() {
    return evictedBytes.get();
  }

  private void run() {
    while (running) {
      try {
        pokes.poll(flushInterval.toMillis(), TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        break;
      }
      // Noted after taking the poke, and before reading any state: a poke made before this note
      // is served by this turn (or was by an earlier one), one made after it by a later turn.
      long serving = pokesMade.get();
      Throwable failure = null;
      try {
        boolean wrote = true;
        if (running && budget.needsEviction()) {
          pass();
        } else if (accesses.size() > 0) {
          database.withEvictionConnection(this::flushAccessTimes);
        } else {
          wrote = false;
        }
        if (wrote && storageFailing.succeeded()) {
          log.info("eviction writes the metadata database again");
        }
      } catch (RuntimeException e) {
        // The thread must outlive any one failed pass, or the cap would stop holding; the next
        // poke or flush tick retries.
        failedPasses.incrementAndGet();
        failure = e;
        logFailure(e);
      }
      try {
        budget.admitWaiting();
      } catch (RuntimeException e) {
        // An admitted download's executor refused its continuation (it is shutting down).
        log.warn("could not hand room to a waiting download", e);
      }
      observer.turnEnded(serving, failure);
    }
    try {
      database.withEvictionConnection(this::flushAccessTimes);
    } catch (RuntimeException e) {
      log.warn("could not write the last access times at shutdown; LRU order loses them", e);
    }
    observer.stopped();
  }

  /**
   * A full or failing disk fails every pass and every flush tick alike: its one line names the
   * cause (SQLite's "database or disk is full"), and the next line comes once a turn succeeds.
   */
  private void logFailure(RuntimeException e) {
    Optional<LocalStorageException> local = LocalStorageException.in(e);
    if (local.isEmpty()) {
      log.error("eviction pass failed; the next poke retries", e);
    } else if (storageFailing.failed()) {
      log.error("eviction pass failed: {}; retried on every poke and flush tick, logged again once it works",
          local.get().getMessage());
    }
  }

  /** One pass on one connection: evict down to the low-water mark, freshest access times first. */
  private void pass() {
    passes.incrementAndGet();
    database.withEvictionConnection(connection -> {
      while (running) {
        flushAccessTimes(connection);
        long excess = budget.demand() - budget.lowWaterBytes();
        if (excess <= 0) {
          break;
        }
        List<BlobRecord> candidates = EvictionQueries.leastRecentlyUsed(connection, MetadataDatabase.WRITE_BATCH);
        if (candidates.isEmpty()) {
          if (budget.storedBytes() > 0) {
            log.warn("the cache is over its low-water mark but every stored blob is pinned");
          }
          break;
        }
        List<BlobRecord> chosen = new ArrayList<>();
        for (BlobRecord candidate : candidates) {
          if (excess <= 0) {
            break;
          }
          // Touched since the flush above: it is the newest, not the oldest. The next round's
          // flush moves it to the back of the index.
          if (!accesses.contains(candidate.digest())) {
            chosen.add(candidate);
            excess -= candidate.size();
          }
        }
        evict(connection, chosen);
      }
      return null;
    });
  }

  private Void flushAccessTimes(Connection connection) throws SQLException {
    Map<Digest, Long> drained = accesses.drain();
    if (!drained.isEmpty()) {
      try {
        EvictionQueries.updateAccessTimes(connection, drained);
      } catch (SQLException | RuntimeException e) {
        // Kept for the next turn: a database that cannot be written (a full disk) delays the LRU
        // order, it does not lose it.
        drained.forEach(accesses::record);
        throw e;
      }
    }
    return null;
  }

  private void evict(Connection connection, List<BlobRecord> chosen) throws SQLException {
    List<BlobRecord> deleted = EvictionQueries.deleteUnchanged(connection, chosen);
    unlinkDeleted(deleted);
    evictedBytes.addAndGet(deleted.stream().mapToLong(BlobRecord::size).sum());
    evictedBlobs.addAndGet(deleted.size());
  }

  /**
   * The second half of a removal an operator made (a purge, on another thread), after its rows
   * are deleted: as {@link #unlinkDeleted}, then the room is offered to downloads waiting for it.
   */
  void freeRemoved(List<BlobRecord> deleted) {
    unlinkDeleted(deleted);
    budget.admitWaiting();
  }

  /**
   * The second half of any removal, after its rows are deleted: unlinks the files, frees their
   * bytes, and tells the listeners. Only the caller that deleted a row holds its record, so no
   * file or byte is freed twice.
   */
  private void unlinkDeleted(List<BlobRecord> deleted) {
    if (deleted.isEmpty()) {
      return;
    }
    List<Digest> digests = new ArrayList<>(deleted.size());
    for (BlobRecord record : deleted) {
      digests.add(record.digest());
      try {
        blobs.deleteFile(record.digest());
      } catch (IOException e) {
        log.warn("could not unlink removed blob {}; recovery will adopt it", record.digest(), e);
      }
      budget.removeStored(record.size());
    }
    onEvicted.accept(digests);
  }

  /** Stops after the current batch; the thread writes the buffered access times as it exits. */
  @Override
  public void close() {
    running = false;
    // Wakes the thread if it is idle; if a poke is pending, that one wakes it.
    pokes.offer(Boolean.TRUE);
    try {
      thread.join(SHUTDOWN_GRACE.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (thread.isAlive()) {
      log.error("the evictor did not stop within {}; closing the database under it", SHUTDOWN_GRACE);
    }
  }
}
