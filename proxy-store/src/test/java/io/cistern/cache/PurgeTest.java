package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.bytesOnDisk;
import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.settings;
import static io.cistern.cache.CacheFixtures.storeImage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheFixtures.ManualClock;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Purges remove rows and files together, keep what others still need, and keep the budget right. */
class PurgeTest {

  private static final int KIB = 1024;
  private static final String UPSTREAM = "upstream.test";
  private static final RepositoryName REPOSITORY = RepositoryName.of("team/app");

  @TempDir
  Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(9);

  private CacheDirectory open() {
    return CacheDirectory.open(settings(temp.resolve("cache"), 100L << 20, 0.9, Duration.ofMinutes(1)), clock);
  }

  private List<byte[]> blobs(int count) {
    List<byte[]> blobs = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      blobs.add(content(random, 8 * KIB));
    }
    return blobs;
  }

  private void tag(CacheDirectory opened, String tag, Digest digest) {
    opened.tags().put(new TagMapping(new TagKey(UPSTREAM, REPOSITORY, new Tag(tag)), digest, clock.instant()));
  }

  private static void assertBudgetMatchesDisk(BlobCache cache) {
    assertEquals(bytesOnDisk(cache), cache.stats().storedBytes(), "stored bytes are what is on disk");
    assertEquals(SqliteClient.rows(cache.directory()), cache.stats().entries(), "entries are the rows");
    assertEquals(SqliteClient.storedBytes(cache.directory()), cache.stats().storedBytes(), "and the rows' sizes");
  }

  @Test
  void purgingAnImageRemovesWhatOnlyItUsesAndKeepsWhatAnotherManifestShares() throws Exception {
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      List<byte[]> first = blobs(3);
      List<byte[]> second = new ArrayList<>(blobs(2));
      second.add(first.get(2));
      Manifest one = storeImage(cache, first);
      Manifest two = storeImage(cache, second);
      tag(opened, "1", one.digest());
      tag(opened, "2", two.digest());
      List<Digest> told = new CopyOnWriteArrayList<>();
      cache.onEviction(told::addAll);

      Removal removal = opened.catalog().purgeImage(one.digest());

      assertEquals(3, removal.blobs(), "the manifest, the config and the unshared layer");
      assertEquals(one.bytes().length + 16 * KIB, removal.bytes());
      assertFalse(Files.exists(cache.pathOf(one.digest())), "files go with their rows");
      assertFalse(cache.contains(Digest.sha256Of(first.get(0))));
      assertTrue(cache.contains(Digest.sha256Of(first.get(2))), "the layer the other image shares stays");
      assertTrue(opened.tags().find(new TagKey(UPSTREAM, REPOSITORY, new Tag("1"))).isEmpty(), "its tag went with it");
      assertTrue(opened.tags().find(new TagKey(UPSTREAM, REPOSITORY, new Tag("2"))).isPresent());
      assertTrue(told.contains(one.digest()), "memory caches are told, as for an eviction");
      assertBudgetMatchesDisk(cache);
    }
  }

  @Test
  void purgingATagKeepsTheImageWhileAnotherTagPointsAtIt() throws Exception {
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      Manifest image = storeImage(cache, blobs(2));
      tag(opened, "1.0", image.digest());
      tag(opened, "latest", image.digest());
      List<TagKey> changed = new CopyOnWriteArrayList<>();
      opened.tags().onTagChange(changed::add);
      TagKey latest = new TagKey(UPSTREAM, REPOSITORY, new Tag("latest"));

      assertEquals(Optional.of(Removal.NOTHING), catalog.purgeTag(latest));
      assertTrue(opened.tags().find(latest).isEmpty());
      assertTrue(cache.contains(image.digest()), "1.0 still points at it");
      assertEquals(List.of(latest), changed, "a running server is told to forget the tag");

      Removal removal = catalog.purgeTag(new TagKey(UPSTREAM, REPOSITORY, new Tag("1.0"))).orElseThrow();
      assertEquals(3, removal.blobs(), "the last tag takes the image with it");
      assertEquals(0, cache.stats().entries());
      assertEquals(Optional.empty(), catalog.purgeTag(latest), "an unknown tag is reported as such");
      assertBudgetMatchesDisk(cache);
    }
  }

  @Test
  void aPinnedImageIsNotPurged() throws Exception {
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      Manifest image = storeImage(cache, blobs(2));
      catalog.pinImage(TestPins.byDigest(image.digest()), image.digest());
      assertThrows(PinnedImageException.class, () -> catalog.purgeImage(image.digest()));
      assertEquals(3, cache.stats().entries());
      catalog.unpinImage(image.digest());
      assertEquals(3, catalog.purgeImage(image.digest()).blobs());
    }
  }

  @Test
  void purgingByAgeRemovesWhatWasNotReadSinceTheCutoffExceptPinnedAndFreshlyReadContent() throws Exception {
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      Manifest pinned = storeImage(cache, blobs(1));
      catalog.pinImage(TestPins.byDigest(pinned.digest()), pinned.digest());
      List<Digest> old = new ArrayList<>();
      for (int i = 0; i < 300; i++) {
        old.add(download(cache, content(random, KIB), true));
      }
      Digest readSinceFlush = download(cache, content(random, KIB), true);
      clock.advance(Duration.ofDays(31));
      cache.recordAccess(readSinceFlush);
      Digest recent = download(cache, content(random, KIB), true);

      Removal removal = catalog.purgeOlderThan(clock.instant().minus(Duration.ofDays(30)));

      assertEquals(300, removal.blobs(), "every old blob, over several batches");
      old.forEach(digest -> assertFalse(cache.contains(digest)));
      assertTrue(cache.contains(readSinceFlush), "a read not yet flushed still counts");
      assertTrue(cache.contains(recent));
      assertTrue(cache.contains(pinned.digest()), "pinned content is never purged by age");
      assertBudgetMatchesDisk(cache);
    }
  }
}
