package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cistern.cache.CacheFixtures.ManualClock;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Eviction starts at the cap and stops at the low-water mark, so stores do not each cost a pass. */
class WatermarkTest {

  private static final int KIB = 1024;

  @TempDir
  Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(3);

  @Test
  void aPassRunsOnlyAboveTheCapAndFreesDownToTheLowWaterMark() throws Exception {
    EvictorTurns evictor = new EvictorTurns();
    try (CacheDirectory opened = CacheFixtures.open(settings(temp.resolve("cache"), 100 * KIB, 0.8, Duration.ofMinutes(1)), clock, evictor)) {
      BlobCache cache = opened.blobs();
      store(cache, 100);
      evictor.caughtUp().get();
      assertEquals(0, cache.stats().evictionPasses(), "exactly at the cap: no pass");

      store(cache, 1);
      evictor.caughtUp().get();
      CacheStats stats = cache.stats();
      assertEquals(1, stats.evictionPasses());
      assertEquals(21, stats.evictedBlobs(), "101 KiB asked for, 80 KiB kept");
      assertEquals(21 * KIB, stats.evictedBytes());
      assertEquals(80, stats.entries());
      assertEquals(80 * KIB, stats.storedBytes());

      store(cache, 20);
      evictor.caughtUp().get();
      assertEquals(1, cache.stats().evictionPasses(), "the next 20 stores fit between the marks");
      store(cache, 1);
      evictor.caughtUp().get();
      assertEquals(2, cache.stats().evictionPasses());
      assertEquals(80 * KIB, cache.stats().storedBytes());
    }
  }

  @Test
  void aSteadyStreamOfStoresBelowTheCapRunsNoPass() throws Exception {
    ExecutorService threads = Executors.newFixedThreadPool(16);
    EvictorTurns evictor = new EvictorTurns();
    try (CacheDirectory opened = CacheFixtures.open(settings(temp.resolve("cache"), 1024 * KIB, 0.9, Duration.ofMinutes(1)), clock, evictor)) {
      BlobCache cache = opened.blobs();
      List<Future<?>> stores = new ArrayList<>();
      for (int i = 0; i < 1000; i++) {
        byte[] bytes = content(random, 512);
        boolean knownSize = i % 2 == 0;
        stores.add(threads.submit(() -> download(cache, bytes, knownSize)));
      }
      for (Future<?> store : stores) {
        store.get();
      }
      evictor.caughtUp().get();

      CacheStats stats = cache.stats();
      assertEquals(0, stats.evictionPasses());
      assertEquals(0, stats.evictedBlobs());
      assertEquals(1000, stats.entries());
      assertEquals(1000 * 512, stats.storedBytes());
    } finally {
      threads.shutdownNow();
    }
  }

  private void store(BlobCache cache, int count) throws Exception {
    for (int i = 0; i < count; i++) {
      clock.advance(Duration.ofMillis(1));
      download(cache, content(random, KIB), true);
    }
  }
}
