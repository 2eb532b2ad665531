package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheFixtures.ManualClock;
import io.cistern.oci.Digest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Access times reach SQLite in batches on the evictor's path, and a clean stop loses none of them. */
class EvictorLifecycleTest {

  private static final int KIB = 1024;

  @TempDir
  Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(9);

  private BlobCache open() {
    return BlobCache.open(settings(temp.resolve("cache"), 1024 * KIB, 0.9, Duration.ofMinutes(1)), clock);
  }

  @Test
  void cacheHitsWriteNothingUntilTheEvictorFlushesThemInOneBatch() throws Exception {
    try (BlobCache cache = open()) {
      List<Digest> digests = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        digests.add(download(cache, content(random, KIB), true));
      }
      long storedAt = clock.millis();
      clock.advance(Duration.ofMinutes(5));
      for (int hit = 0; hit < 1000; hit++) {
        cache.open(digests.get(hit % 10)).orElseThrow().close();
      }
      for (Digest digest : digests) {
        assertEquals(storedAt, cache.metadata().findBlob(digest).orElseThrow().lastAccess(), "a hit alone writes nothing");
      }

      cache.evictionSettled().get();

      for (Digest digest : digests) {
        assertEquals(clock.millis(), cache.metadata().findBlob(digest).orElseThrow().lastAccess(), "flushed by the evictor");
      }
      assertEquals(0, cache.stats().evictionPasses(), "a flush is not an eviction pass");
    }
  }

  @Test
  void closingStopsTheEvictorAndWritesTheBufferedAccessTimes() throws Exception {
    Digest digest;
    long readAt;
    BlobCache cache = open();
    try {
      digest = download(cache, content(random, KIB), true);
      clock.advance(Duration.ofHours(2));
      readAt = clock.millis();
      assertEquals(KIB, cache.sizeOf(digest).orElseThrow());
    } finally {
      cache.close();
    }

    CompletableFuture<Void> afterStop = cache.evictionSettled();
    assertTrue(afterStop.isCompletedExceptionally(), "no evictor thread is left to answer");
    ExecutionException stopped = assertThrows(ExecutionException.class, afterStop::get);
    assertInstanceOf(IllegalStateException.class, stopped.getCause());

    try (BlobCache reopened = open()) {
      assertEquals(readAt, reopened.metadata().findBlob(digest).orElseThrow().lastAccess(),
          "the access buffered at shutdown reached the database");
    }
  }
}
