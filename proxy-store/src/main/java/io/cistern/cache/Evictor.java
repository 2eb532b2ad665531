package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
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
 * <p>Stores poke it through a capacity-1 queue instead of each starting its own task: a burst of
 * N stores leaves at most one pending poke, so it costs one pass (or very few), and the evictor
 * never holds more than the one pool connection it borrows for the duration of a pass.
 *
 * <p>Why the cap still converges: a store pokes only after its bytes are counted, and a poke is
 * dropped only while another is pending. The pending poke is taken after the dropped one's store
 * was counted, so the pass it starts reads a total that includes that store. Whatever the
 * interleaving, the last store of a burst is followed by a pass that sees the final total.
 *
 * <p>A pass evicts least recently used, unpinned blobs from the high-water mark (the cap) down to
 * the low-water mark, in batches read through the (pinned, last_access) index: its cost grows with
 * what it frees, not with how many blobs are cached. Rows go first, then files: a reader that
 * already holds a file keeps reading it after the unlink, and a crash between the two leaves only
 * a file without a row, which recovery adopts.
 */
final class Evictor implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Evictor.class);
  private static final int BATCH = 256;

  private final BlockingQueue<Boolean> pokes = new ArrayBlockingQueue<>(1);
  private final MetadataStore metadata;
  private final BlobStore blobs;
  private final DiskBudget budget;
  private final AccessTracker accesses;
  private final Duration flushInterval;
  private final Consumer<List<Digest>> onEvicted;
  private final Thread thread;
  private final AtomicLong passes = new AtomicLong();
  private final AtomicLong evictedBlobs = new AtomicLong();
  private final AtomicLong evictedBytes = new AtomicLong();
  private volatile boolean running = true;

  Evictor(MetadataStore metadata, BlobStore blobs, DiskBudget budget, AccessTracker accesses,
      Duration flushInterval, Consumer<List<Digest>> onEvicted) {
    this.metadata = metadata;
    this.blobs = blobs;
    this.budget = budget;
    this.accesses = accesses;
    this.flushInterval = flushInterval;
    this.onEvicted = onEvicted;
    this.thread = new Thread(this::run, "cistern-evictor");
    this.thread.setDaemon(true);
  }

  void start() {
    thread.start();
  }

  /** Asks for a pass; returns at once. A poke while one is pending is absorbed by it. */
  void poke() {
    pokes.offer(Boolean.TRUE);
  }

  long passes() {
    return passes.get();
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
        Boolean poked = pokes.poll(flushInterval.toMillis(), TimeUnit.MILLISECONDS);
        if (poked != null && (budget.overHighWater() || budget.hasWaiters())) {
          pass();
        } else if (accesses.size() > 0) {
          metadata.withConnection(connection -> {
            MetadataStore.updateAccessTimes(connection, accesses.drain());
            return null;
          });
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        return;
      } catch (RuntimeException e) {
        // The thread must outlive any one failed pass, or the cap would stop holding.
        log.error("eviction pass failed; the next poke retries", e);
      } finally {
        budget.admitWaiting();
      }
    }
  }

  /** One pass on one connection: flush access times, then evict down to the low-water mark. */
  private void pass() {
    passes.incrementAndGet();
    metadata.withConnection(connection -> {
      MetadataStore.updateAccessTimes(connection, accesses.drain());
      while (budget.overLowWater() && running) {
        List<BlobRecord> candidates = MetadataStore.leastRecentlyUsed(connection, BATCH);
        if (candidates.isEmpty()) {
          log.warn("cache is over its low-water mark but nothing is evictable (pinned or reserved)");
          break;
        }
        List<BlobRecord> chosen = new ArrayList<>();
        long excess = budget.demand() - budget.lowWaterBytes();
        for (BlobRecord candidate : candidates) {
          if (excess <= 0) {
            break;
          }
          chosen.add(candidate);
          excess -= candidate.size();
        }
        evict(connection, chosen);
      }
      return null;
    });
  }

  private void evict(Connection connection, List<BlobRecord> chosen) throws SQLException {
    List<Digest> digests = new ArrayList<>(chosen.size());
    chosen.forEach(record -> digests.add(record.digest()));
    MetadataStore.deleteBlobs(connection, digests);
    for (BlobRecord record : chosen) {
      try {
        blobs.delete(record.digest());
      } catch (IOException e) {
        log.warn("could not unlink evicted blob {}; recovery will adopt it", record.digest(), e);
      }
      budget.removeStored(record.size());
      evictedBytes.addAndGet(record.size());
    }
    evictedBlobs.addAndGet(chosen.size());
    onEvicted.accept(digests);
  }

  /** Stops after the current pass and writes the buffered access times. */
  @Override
  public void close() {
    running = false;
    pokes.offer(Boolean.TRUE);
    try {
      thread.join(TimeUnit.SECONDS.toMillis(30));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    Map<Digest, Long> remaining = accesses.drain();
    if (!remaining.isEmpty()) {
      metadata.withConnection(connection -> {
        MetadataStore.updateAccessTimes(connection, remaining);
        return null;
      });
    }
  }
}
