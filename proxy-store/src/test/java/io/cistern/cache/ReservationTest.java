package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheFixtures.ManualClock;
import io.cistern.oci.Digest;
import java.nio.file.Path;
import java.io.IOException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Room before download: a fetch of known size claims its bytes against the cap before it starts. */
class ReservationTest {

  private static final int KIB = 1024;

  @TempDir
  Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(5);

  /** The evictor of the cache opened last. */
  private EvictorTurns evictor;

  private CacheDirectory open(long cap, double lowWaterFraction, Duration reservationTimeout) {
    evictor = new EvictorTurns();
    return CacheFixtures.open(settings(temp.resolve("cache"), cap, lowWaterFraction, reservationTimeout), clock, evictor);
  }

  private List<Digest> storeInOrder(BlobCache cache, int count, int size) throws IOException {
    return CacheFixtures.storeInOrder(cache, clock, random, count, size);
  }

  @Test
  void aReservationMakesRoomByEvictingTheOldestBeforeTheDownloadStarts() throws Exception {
    try (CacheDirectory opened = open(10 * KIB, 0.9, Duration.ofMinutes(1))) {
      BlobCache cache = opened.blobs();
      List<Digest> stored = storeInOrder(cache, 10, KIB);

      Ingest ingest = cache.ingest(unpublished(1), 4 * KIB).get();

      CacheStats stats = cache.stats();
      assertEquals(4 * KIB, ingest.reservation().bytes());
      assertEquals(4 * KIB, stats.reservedBytes());
      assertEquals(5 * KIB, stats.storedBytes(), "evicted down to the low-water mark, the reservation included");
      assertTrue(stats.storedBytes() + stats.reservedBytes() <= stats.maxBytes());
      for (int i = 0; i < 10; i++) {
        assertEquals(i >= 5, cache.contains(stored.get(i)), "the five oldest went: blob " + i);
      }
      ingest.abandon(new IOException("test over"));
      assertEquals(0, cache.stats().reservedBytes(), "a released reservation frees its bytes");
    }
  }

  @Test
  void aBurstOfLargeDownloadsNeverLetsStoredPlusReservedExceedTheCap() throws Exception {
    int downloads = 40;
    ExecutorService threads = Executors.newFixedThreadPool(downloads);
    try (CacheDirectory opened = open(1024 * KIB, 0.9, Duration.ofMinutes(1))) {
      BlobCache cache = opened.blobs();
      CountDownLatch gate = new CountDownLatch(1);
      List<Future<Digest>> results = new ArrayList<>();
      for (int i = 0; i < downloads; i++) {
        byte[] bytes = content(random, 200 * KIB);
        results.add(threads.submit(() -> {
          gate.await();
          return download(cache, bytes, true);
        }));
      }
      gate.countDown();
      for (Future<Digest> result : results) {
        result.get();
      }
      evictor.caughtUp().get();

      CacheStats stats = cache.stats();
      assertTrue(stats.peakBytes() <= stats.maxBytes(),
          "stored plus reserved peaked at " + stats.peakBytes() + " bytes, over the cap of " + stats.maxBytes());
      assertTrue(stats.peakBytes() > stats.maxBytes() - 200 * KIB, "the cap was actually reached");
      assertEquals(downloads, stats.entries() + stats.evictedBlobs());
      assertEquals(0, stats.refusedReservations());
    } finally {
      threads.shutdownNow();
    }
  }

  @Test
  void aBlobLargerThanTheWholeCacheIsRefusedAtOnce() throws Exception {
    try (CacheDirectory opened = open(10 * KIB, 0.9, Duration.ofMinutes(1))) {
      BlobCache cache = opened.blobs();
      storeInOrder(cache, 3, KIB);

      CompletableFuture<Ingest> ingest = cache.ingest(unpublished(1), 10 * KIB + 1);

      assertTrue(ingest.isCompletedExceptionally(), "refused without waiting");
      TooLargeForCacheException refusal = failure(ingest, TooLargeForCacheException.class);
      assertTrue(refusal.getMessage().contains("larger than the whole cache"), refusal.getMessage());
      CacheStats stats = cache.stats();
      assertEquals(1, stats.refusedReservations());
      assertEquals(0, stats.evictedBlobs(), "nothing was evicted for a blob that can never fit");
      assertEquals(3, stats.entries());
    }
  }

  @Test
  void whenEverythingLeftIsPinnedAWaitingDownloadIsRefusedWithATimeToRetry() throws Exception {
    try (CacheDirectory opened = open(4 * KIB, 0.5, Duration.ofMillis(200))) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      List<Digest> stored = storeInOrder(cache, 4, KIB);
      for (Digest digest : stored) {
        assertEquals(1, catalog.pinImage(TestPins.byDigest(digest), digest).blobs());
      }

      NoRoomException refusal = failure(cache.ingest(unpublished(1), KIB), NoRoomException.class);

      assertEquals(Duration.ofMillis(200), refusal.retryAfter(), "tells the client when to try again");
      assertTrue(refusal.getMessage().contains("no room for " + KIB + " bytes"), refusal.getMessage());
      for (Digest digest : stored) {
        assertTrue(cache.contains(digest), "a pinned blob is never evicted");
      }
      CacheStats stats = cache.stats();
      assertEquals(0, stats.waitingReservations(), "the refused download left the queue");
      assertEquals(1, stats.refusedReservations());
      assertEquals(0, stats.reservedBytes());

      catalog.unpinImage(stored.get(2));
      assertFalse(catalog.isPinnedImage(stored.get(2)));
      Ingest ingest = cache.ingest(unpublished(2), KIB).get();
      assertFalse(cache.contains(stored.get(2)), "unpinned, it is the one blob that could make room");
      assertEquals(3, cache.stats().entries());
      ingest.abandon(new IOException("test over"));
    }
  }

  private static <T extends Throwable> T failure(CompletableFuture<Ingest> ingest, Class<T> type) {
    ExecutionException failure = assertThrows(ExecutionException.class, ingest::get);
    return assertInstanceOf(type, failure.getCause());
  }

  /** The digest of a blob that is claimed room for but never published. */
  private static Digest unpublished(int seed) {
    return Digest.sha256Of(new byte[] {(byte) seed});
  }
}
