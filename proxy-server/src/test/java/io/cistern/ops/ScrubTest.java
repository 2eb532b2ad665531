package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.admin.CacheMetrics;
import io.cistern.admin.Metrics;
import io.cistern.cache.BlobCache;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import io.cistern.cache.Ingest;
import io.cistern.oci.Digest;
import io.cistern.testing.Damage;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestRoutes;
import io.cistern.upstream.UpstreamRouter;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The scrub's unit of work, driven by the test on a clock it moves: it walks the cache in digest
 * order at its pace, finds a flipped byte, moves that file to quarantine, counts it in the
 * metrics, and after a restart resumes where it stopped.
 */
class ScrubTest {

  private static final long RATE = 1 << 20;
  private static final long SECOND = 1_000_000_000L;

  @TempDir
  Path directory;

  private final Random random = new Random(17);
  private long now;
  private final Pacer pacer = new Pacer(RATE, () -> now, nanos -> now += nanos);
  private CacheDirectory opened;
  private BlobCache cache;
  private BlobVerifier verifier;

  @BeforeEach
  void open() {
    opened = CacheDirectory.open(CacheSettings.defaults(directory.resolve("cache"), 1L << 30), Clock.systemUTC(), Runnable::run);
    cache = opened.blobs();
    verifier = new BlobVerifier(cache, opened.catalog(),
        new UpstreamRouter(List.of(TestRoutes.route("upstream.test", "team/app").upstream()), null));
  }

  @AfterEach
  void close() {
    opened.close();
  }

  @Test
  void aPassFindsTheFlippedByteQuarantinesItAndCountsItAtItsPace() throws Exception {
    List<Digest> digests = store(3, 700_000);
    Digest damaged = digests.get(1);
    Damage.flipByte(cache.pathOf(damaged), 500_000);
    Scrub scrub = new Scrub(cache, verifier, pacer, 128);

    int checked = 0;
    while (scrub.scrubNext()) {
      checked++;
    }

    assertEquals(3, checked);
    assertEquals(3, scrub.scrubbedBlobs());
    assertEquals(1, scrub.corruptBlobs());
    assertEquals(1, scrub.passes());
    assertEquals(3 * 700_000, scrub.scrubbedBytes());
    assertFalse(cache.contains(damaged), "moved out of the store");
    assertTrue(cache.contains(digests.get(0)) && cache.contains(digests.get(2)), "whole blobs stay");
    try (Stream<Path> quarantined = Files.list(cache.quarantineDirectory())) {
      assertEquals(1, quarantined.count());
    }
    assertEquals(2, cache.stats().entries(), "its row is dropped");
    // Every read waited for the ones before it; the last call (which found the end) waited for them all.
    long paced = (3 * 700_000 + 4 * Scrub.BLOB_COST) * SECOND / RATE;
    assertTrue(Math.abs(now - paced) < 1_000_000,
        "it read at its pace: " + now + " ns on the clock, " + paced + " expected");

    try (Metrics metrics = new Metrics()) {
      CacheMetrics.bindIntegrity(metrics.registry(), cache, scrub);
      Scrape scrape = Scrape.parse(metrics.registry().scrape());
      assertEquals(1, scrape.value("cistern_cache_corrupt_blobs_total", "found_by", "scrub"));
      assertEquals(0, scrape.value("cistern_cache_corrupt_blobs_total", "found_by", "read"));
      assertEquals(3 * 700_000, scrape.value("cistern_cache_scrubbed_bytes_total"));
      assertEquals(3, scrape.value("cistern_cache_scrubbed_blobs_total"));
    }
  }

  @Test
  void aNewScrubResumesAfterTheLastPageTheOldOneFinishedAndAfterTheEndStartsOver() throws Exception {
    List<Digest> sorted = store(5, 1000).stream().sorted((a, b) -> a.toString().compareTo(b.toString())).toList();
    Scrub first = new Scrub(cache, verifier, pacer, 2);
    for (int i = 0; i < 2; i++) {
      assertTrue(first.scrubNext());
    }
    assertTrue(first.scrubNext(), "the third blob: its page is read once the first page is done, which saves the position");
    assertEquals(sorted.get(1) + "\n", Files.readString(cache.directory().resolve(Scrub.POSITION_FILE)));

    Scrub second = new Scrub(cache, verifier, pacer, 2);
    List<Digest> walked = new ArrayList<>();
    while (second.scrubNext()) {
      walked.add(second.position());
    }
    assertEquals(sorted.subList(2, 5), walked, "resumed after the first page");

    Scrub third = new Scrub(cache, verifier, pacer, 2);
    assertTrue(third.scrubNext());
    assertEquals(sorted.get(0), third.position(), "a finished pass starts the next one from the first digest");
  }

  @Test
  void anEmptyCacheIsAPassThatPausesInsteadOfSpinning() throws Exception {
    Scrub scrub = new Scrub(cache, verifier, pacer, 128);

    assertFalse(scrub.scrubNext());
    assertFalse(scrub.scrubNext());

    assertTrue(now >= Scrub.PAUSE_SECONDS * SECOND, "the second look waited for the first one's pause: " + now);
    assertEquals(2, scrub.passes());
  }

  private List<Digest> store(int count, int size) throws Exception {
    List<Digest> digests = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      byte[] content = new byte[size];
      random.nextBytes(content);
      Digest digest = Digest.sha256Of(content);
      Ingest ingest = cache.ingest(digest, size).join();
      ingest.append(ByteBuffer.wrap(content));
      ingest.publish().join();
      digests.add(digest);
    }
    return digests;
  }
}
