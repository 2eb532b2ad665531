package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheFixtures.ManualClock;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Which blobs a pass picks, and that picking one never cuts off a reader or a download. */
class EvictionOrderTest {

  private static final int KIB = 1024;

  @TempDir
  Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(11);
  /** The evictor of the cache opened last. */
  private EvictorTurns evictor;

  private CacheDirectory open(long cap, double lowWaterFraction) {
    evictor = new EvictorTurns();
    return CacheFixtures.open(settings(temp.resolve("cache"), cap, lowWaterFraction, Duration.ofMinutes(1)), clock, evictor);
  }

  private List<Digest> storeInOrder(BlobCache cache, int count, int size) throws IOException {
    return CacheFixtures.storeInOrder(cache, clock, random, count, size);
  }

  @Test
  void theBlobsUsedLastSurviveWhetherReadByGetByHeadOrFromMemory() throws Exception {
    try (CacheDirectory opened = open(10 * KIB, 0.5)) {
      BlobCache cache = opened.blobs();
      List<Digest> ten = storeInOrder(cache, 10, KIB);
      clock.advance(Duration.ofSeconds(1));
      cache.open(ten.get(0)).orElseThrow().close();
      assertEquals(KIB, cache.sizeOf(ten.get(1)).orElseThrow(), "a HEAD");
      cache.recordAccess(ten.get(2));

      Digest eleventh = storeInOrder(cache, 1, KIB).get(0);
      evictor.caughtUp().get();

      Set<Digest> survivors = new HashSet<>();
      for (Digest digest : ten) {
        if (cache.contains(digest)) {
          survivors.add(digest);
        }
      }
      assertEquals(Set.of(ten.get(0), ten.get(1), ten.get(2), ten.get(9)), survivors,
          "the three touched blobs and the newest untouched one stay; the six oldest untouched go");
      assertTrue(cache.contains(eleventh));
      CacheStats stats = cache.stats();
      assertEquals(1, stats.evictionPasses());
      assertEquals(6, stats.evictedBlobs());
      assertEquals(6 * KIB, stats.evictedBytes());
      assertEquals(5, stats.entries());
      assertEquals(5 * KIB, stats.storedBytes(), "down to the low-water mark, the new blob included");
    }
  }

  @Test
  void aReaderHoldingABlobReadsItWholeAfterItWasEvicted() throws Exception {
    try (CacheDirectory opened = open(1024 * KIB, 0.9)) {
      BlobCache cache = opened.blobs();
      byte[] content = content(random, 512 * KIB);
      Digest digest = download(cache, content, true);
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      try (FileChannel reader = cache.open(digest).orElseThrow().channel()) {
        readSome(reader, received, 1000);

        clock.advance(Duration.ofMillis(1));
        download(cache, content(random, 768 * KIB), true);
        evictor.caughtUp().get();
        assertFalse(Files.exists(cache.pathOf(digest)), "evicted: the file is unlinked");
        assertTrue(cache.open(digest).isEmpty(), "and a new request misses");

        readSome(reader, received, Integer.MAX_VALUE);
      }
      assertArrayEquals(content, received.toByteArray(), "the slow reader still got every byte");
      assertEquals(1, cache.stats().evictedBlobs());
    }
  }

  @Test
  void evictionNeverTouchesADownloadInFlightAndItsFollowersReadItWholeEvenOnceEvicted() throws Exception {
    try (CacheDirectory opened = open(64 * KIB, 0.5)) {
      BlobCache cache = opened.blobs();
      byte[] content = content(random, 16 * KIB);
      Digest digest = Digest.sha256Of(content);
      Ingest partial = CacheFixtures.ingest(cache, digest, content.length);
      partial.append(ByteBuffer.wrap(content, 0, content.length / 2));
      FileChannel follower = partial.followers().openForReading();

      storeInOrder(cache, 8, 16 * KIB);
      evictor.caughtUp().get();
      assertTrue(cache.stats().evictedBlobs() > 0, "passes ran while the download was in flight");
      assertEquals(1, CacheFixtures.partials(cache).size(), "and left its temp file alone");

      partial.append(ByteBuffer.wrap(content, content.length / 2, content.length - content.length / 2));
      partial.publish().join();
      storeInOrder(cache, 8, 16 * KIB);
      evictor.caughtUp().get();
      assertFalse(cache.contains(digest), "once published it is an ordinary blob, and old enough to go");

      ByteArrayOutputStream received = new ByteArrayOutputStream();
      try (follower) {
        readSome(follower, received, Integer.MAX_VALUE);
      }
      assertArrayEquals(content, received.toByteArray(), "the follower opened on the temp file got every byte");
    }
  }

  @Test
  void evictingAManifestRemovesItsTagsRepositoryLinksAndReferrersListsAndTellsListeners() throws Exception {
    Manifest old = manifest("old");
    Manifest kept = manifest("kept");
    long cap = 4 * KIB;
    try (CacheDirectory opened = open(cap, 0.95)) {
      BlobCache cache = opened.blobs();
      List<Digest> evicted = new CopyOnWriteArrayList<>();
      cache.onEviction(evicted::addAll);
      RepositoryName app = RepositoryName.of("team/app");
      cache.storeManifest(old);
      opened.tags().put(new TagMapping(tag(app, "1.0"), old.digest(), clock.instant()));
      opened.tags().link("upstream.test", RepositoryName.of("team/copy"), old.digest());
      ReferrersKey referrers = new ReferrersKey("upstream.test", app, kept.digest());
      opened.referrers().put(new ReferrersList(referrers, old.digest(), clock.instant()));
      clock.advance(Duration.ofMillis(1));
      cache.storeManifest(kept);
      opened.tags().put(new TagMapping(tag(app, "2.0"), kept.digest(), clock.instant()));

      clock.advance(Duration.ofMillis(1));
      download(cache, content(random, (int) (cap - old.bytes().length - kept.bytes().length + 1)), true);
      evictor.caughtUp().get();

      assertEquals(List.of(old.digest()), evicted, "only the older manifest had to go");
      assertTrue(cache.readManifest(old.digest()).isEmpty());
      assertTrue(opened.tags().find(tag(app, "1.0")).isEmpty(), "its tag no longer points at nothing");
      assertEquals(List.of("2.0"), opened.tags().tagsOf("upstream.test", app));
      assertTrue(opened.referrers().find(referrers).isEmpty(), "nor does a referrers list held in it");
      assertEquals(0, repositoryLinks(cache, old.digest()), "its repository links are gone");
      assertEquals(1, repositoryLinks(cache, kept.digest()), "the surviving manifest keeps its own");
      assertEquals(kept.digest(), opened.tags().find(tag(app, "2.0")).orElseThrow().digest());
    }
  }

  private static TagKey tag(RepositoryName repository, String tag) {
    return new TagKey("upstream.test", repository, new Tag(tag));
  }

  private static Manifest manifest(String name) {
    String json = """
        {"schemaVersion":2,"mediaType":"%s","config":{"mediaType":"application/vnd.oci.image.config.v1+json",\
        "digest":"%s","size":2},"layers":[],"annotations":{"name":"%s"}}"""
        .formatted(MediaTypes.OCI_MANIFEST, Digest.sha256Of("{}".getBytes(StandardCharsets.UTF_8)), name);
    return Manifest.of(MediaTypes.OCI_MANIFEST, json.getBytes(StandardCharsets.UTF_8));
  }

  private static int repositoryLinks(BlobCache cache, Digest digest) {
    return SqliteClient.query(cache.directory(), connection -> {
      try (PreparedStatement select = connection.prepareStatement("SELECT COUNT(*) FROM repository_manifests WHERE digest = ?")) {
        select.setString(1, digest.toString());
        try (ResultSet rs = select.executeQuery()) {
          rs.next();
          return rs.getInt(1);
        }
      }
    });
  }

  /** Reads up to {@code limit} more bytes at the channel's position (all that is left, at most). */
  private static void readSome(FileChannel channel, ByteArrayOutputStream into, int limit) throws IOException {
    ByteBuffer buffer = ByteBuffer.allocate(8 * KIB);
    int total = 0;
    while (total < limit) {
      buffer.clear().limit(Math.min(buffer.capacity(), limit - total));
      int read = channel.read(buffer);
      if (read < 0) {
        return;
      }
      into.write(Arrays.copyOf(buffer.array(), read));
      total += read;
    }
  }
}
