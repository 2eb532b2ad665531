package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheFixtures.ManualClock;
import io.cistern.oci.Digest;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Access times reach SQLite in batches on the evictor's path, and a clean stop loses none of them. */
class EvictorLifecycleTest {

  private static final int KIB = 1024;

  @TempDir
  Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(9);

  /** The evictor of the cache opened last. */
  private EvictorTurns evictor;

  private CacheDirectory open(long cap) {
    evictor = new EvictorTurns();
    return CacheFixtures.open(settings(temp.resolve("cache"), cap, 0.5, Duration.ofMinutes(1)), clock, evictor);
  }

  @Test
  void cacheHitsWriteNothingUntilThePassThatNeedsThemFlushesThemInOneBatch() throws Exception {
    try (CacheDirectory opened = open(10 * KIB)) {
      BlobCache cache = opened.blobs();
      List<Digest> digests = new ArrayList<>();
      for (int i = 0; i < 10; i++) {
        clock.advance(Duration.ofMillis(1));
        digests.add(download(cache, content(random, KIB), true));
      }
      List<Digest> hot = digests.subList(0, 3);
      clock.advance(Duration.ofMinutes(5));
      long hitAt = clock.millis();
      for (int hit = 0; hit < 1000; hit++) {
        cache.open(hot.get(hit % hot.size())).orElseThrow().close();
      }
      for (Digest digest : hot) {
        assertTrue(SqliteClient.blob(cache.directory(), digest).orElseThrow().lastAccess() < hitAt, "a hit alone writes nothing");
      }

      download(cache, content(random, KIB), true);
      evictor.caughtUp().get();

      for (Digest digest : hot) {
        assertEquals(hitAt, SqliteClient.blob(cache.directory(), digest).orElseThrow().lastAccess(),
            "the pass wrote the buffered hits before ranking, so the hot blobs stayed");
      }
      assertEquals(1, cache.stats().evictionPasses());
    }
  }

  @Test
  void closingStopsTheEvictorThreadAndWritesTheBufferedAccessTimes() throws Exception {
    Digest digest;
    long readAt;
    CacheDirectory opened = open(1024 * KIB);
    BlobCache cache = opened.blobs();
    try {
      assertEquals(1, evictorThreads(), "the cache runs one evictor");
      digest = download(cache, content(random, KIB), true);
      clock.advance(Duration.ofHours(2));
      readAt = clock.millis();
      assertEquals(KIB, cache.sizeOf(digest).orElseThrow());
    } finally {
      opened.close();
    }
    assertEquals(0, evictorThreads(), "close returns after the evictor thread has exited");

    try (CacheDirectory reopenedDirectory = open(1024 * KIB)) {
      BlobCache reopened = reopenedDirectory.blobs();
      assertEquals(readAt, SqliteClient.blob(reopened.directory(), digest).orElseThrow().lastAccess(),
          "the access buffered at shutdown reached the database");
    }
  }

  private long evictorThreads() {
    String name = "cistern-evictor " + temp.resolve("cache");
    return Thread.getAllStackTraces().keySet().stream()
        .filter(thread -> thread.isAlive() && thread.getName().startsWith(name))
        .count();
  }
}
