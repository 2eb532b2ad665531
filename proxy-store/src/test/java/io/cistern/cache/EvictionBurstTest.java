package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.bytesOnDisk;
import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The failure this design exists to prevent: a burst of stores, each spawning its own eviction
 * task, exhausts the connection pool and the cap silently stops holding. Here 1,000 stores start
 * at once into a cache capped at a quarter of their total, twenty times over. In even rounds every
 * store is of unknown size, counted only when it lands, so nothing but the stores' own pokes can
 * start a pass; in odd rounds half of them reserve their size first, as most downloads do.
 */
class EvictionBurstTest {

  private static final int STORES = 1_000;
  private static final int BLOB_SIZE = 1024;
  private static final long CAP = STORES * BLOB_SIZE / 4;
  private static final int ROUNDS = 20;

  private static ExecutorService threads;

  @TempDir(factory = TmpfsTempDirFactory.class)
  Path temp;

  @BeforeAll
  static void startThreads() {
    threads = Executors.newFixedThreadPool(STORES);
  }

  @AfterAll
  static void stopThreads() {
    threads.shutdownNow();
  }

  @Test
  void aThousandConcurrentStoresEndUnderTheCapAfterFarFewerPassesThanStores() throws Exception {
    Random random = new Random(4);
    for (int round = 0; round < ROUNDS; round++) {
      EvictorTurns evictor = new EvictorTurns();
      PoolMeters pools = new PoolMeters();
      try (CacheDirectory opened = CacheDirectory.open(settings(temp.resolve("round-" + round), CAP, 0.9, Duration.ofMinutes(5)),
          Clock.systemUTC(), ForkJoinPool.commonPool(), pools.tracker(), evictor, null)) {
        BlobCache cache = opened.blobs();
        List<byte[]> contents = new ArrayList<>();
        for (int i = 0; i < STORES; i++) {
          contents.add(content(random, BLOB_SIZE));
        }

        List<Throwable> failures = burst(cache, contents, round % 2 == 1);
        evictor.caughtUp().get();

        String round0 = "round " + round + ": ";
        CacheStats stats = cache.stats();
        assertEquals(List.of(), failures, round0 + "no store failed (no pool timeout, no refused reservation)");
        assertTrue(stats.storedBytes() <= CAP, round0 + "under the cap after quiescence: " + stats);
        assertEquals(stats.storedBytes(), bytesOnDisk(cache), round0 + "the files agree with the count");
        assertEquals(stats.storedBytes(), SqliteClient.storedBytes(cache.directory()), round0 + "the rows agree with the count");
        assertEquals(STORES, stats.entries() + stats.evictedBlobs(), round0 + "every store is either kept or evicted");
        assertTrue(stats.evictionPasses() >= 1, round0 + "the burst overflowed the cap, so something evicted");
        assertTrue(stats.evictionPasses() <= STORES / 10,
            round0 + "passes are debounced: " + stats.evictionPasses() + " for " + STORES + " stores");
        assertEquals(0, stats.failedEvictionPasses(), round0 + "no pass failed (no pool timeout in the evictor)");
        assertEquals(0, stats.reservedBytes(), round0 + "every reservation was settled");
        assertEquals(1, pools.maximum(MetadataDatabase.EVICTION_POOL), round0 + "the evictor's pool holds one connection");
        assertTrue(pools.borrows(MetadataDatabase.EVICTION_POOL) >= stats.evictionPasses(), round0 + "which every pass used");
        assertEquals(0, pools.timeouts(MetadataDatabase.EVICTION_POOL),
            round0 + "and none waited for a second one: the evictor never held more than one connection");
      }
    }
  }

  /** Starts every store at once behind a gate; returns what failed. */
  private static List<Throwable> burst(BlobCache cache, List<byte[]> contents, boolean reserveHalf) throws InterruptedException {
    CountDownLatch gate = new CountDownLatch(1);
    List<Future<?>> stores = new ArrayList<>();
    for (int i = 0; i < contents.size(); i++) {
      byte[] bytes = contents.get(i);
      boolean knownSize = reserveHalf && i % 2 == 0;
      stores.add(threads.submit(() -> {
        gate.await();
        return download(cache, bytes, knownSize);
      }));
    }
    gate.countDown();
    List<Throwable> failures = new ArrayList<>();
    for (Future<?> store : stores) {
      try {
        store.get();
      } catch (ExecutionException e) {
        failures.add(e.getCause());
      }
    }
    return failures;
  }
}
