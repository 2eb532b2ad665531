package io.cistern.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The evictor's connection is its own: a pool drained by requests cannot stop a pass. */
class EvictorConnectionTest {

  @TempDir
  Path temp;

  @Test
  void aPassRunsWhileRequestPathsHoldEveryConnectionOfTheirPool() throws Exception {
    int poolSize = 3;
    ExecutorService holders = Executors.newFixedThreadPool(poolSize - 1);
    PoolMeters pools = new PoolMeters();
    try (MetadataDatabase metadata = MetadataDatabase.open(temp.resolve("metadata.db"), poolSize, Duration.ofMillis(250),
        pools.tracker())) {
      SchemaMigrations.migrate(metadata);
      BlobRows rows = new BlobRows(metadata);
      DiskTier blobs = DiskTier.standalone(temp.resolve("blobs"));
      DiskBudget budget = new DiskBudget(3, 2, Duration.ofMinutes(1), () -> { }, ForkJoinPool.commonPool(),
          Files.getFileStore(temp), 0);
      List<Digest> stored = new ArrayList<>();
      for (int i = 0; i < 4; i++) {
        byte[] content = ("blob " + i).getBytes(StandardCharsets.UTF_8);
        Digest digest = Digest.sha256Of(content);
        blobs.write(digest, new byte[1]);
        rows.insert(digest, 1, null, List.of(), i);
        budget.addStored(1);
        budget.countEntry(1);
        stored.add(digest);
      }

      CountDownLatch held = new CountDownLatch(poolSize - 1);
      CountDownLatch release = new CountDownLatch(1);
      for (int i = 0; i < poolSize - 1; i++) {
        holders.submit(() -> metadata.withConnection(connection -> {
          held.countDown();
          awaitUninterruptibly(release);
          return null;
        }));
      }
      held.await();
      MetadataException exhausted = assertThrows(MetadataException.class, () -> rows.find(stored.get(0)));
      assertTrue(exhausted.getMessage().contains("timed out"), "the request pool is really exhausted: " + exhausted.getMessage());
      assertEquals(1, pools.timeouts(MetadataDatabase.REQUEST_POOL), "as its metrics say");

      EvictorTurns turns = new EvictorTurns();
      try (Evictor evictor = new Evictor(metadata, blobs, budget, new AccessTracker(), Duration.ofHours(1), digests -> { },
          turns)) {
        evictor.start();
        evictor.poke();
        turns.caughtUp().get();

        assertEquals(1, evictor.passes());
        assertEquals(0, evictor.failedPasses(), "no pool timeout for the evictor");
        assertEquals(2, evictor.evictedBlobs(), "from 4 bytes over a cap of 3 down to the low-water mark of 2");
        assertFalse(blobs.contains(stored.get(0)));
        assertFalse(blobs.contains(stored.get(1)));
        assertTrue(blobs.contains(stored.get(2)));
        assertEquals(1, pools.maximum(MetadataDatabase.EVICTION_POOL), "the evictor's pool holds one connection");
        assertTrue(pools.borrows(MetadataDatabase.EVICTION_POOL) >= 1, "which the pass used");
        assertEquals(0, pools.timeouts(MetadataDatabase.EVICTION_POOL),
            "and none waited for a second one: the pass never held more than one connection");
      } finally {
        release.countDown();
      }
    } finally {
      holders.shutdown();
    }
  }

  private static void awaitUninterruptibly(CountDownLatch latch) {
    while (true) {
      try {
        latch.await();
        return;
      } catch (InterruptedException e) {
        // Keep the connection until the test lets go of it.
      }
    }
  }
}
