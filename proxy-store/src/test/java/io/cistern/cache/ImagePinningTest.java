package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.bytesOnDisk;
import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.imageManifest;
import static io.cistern.cache.CacheFixtures.indexManifest;
import static io.cistern.cache.CacheFixtures.settings;
import static io.cistern.cache.CacheFixtures.storeImage;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheFixtures.ManualClock;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Pinning whole images: a pinned image's manifest and blobs are never evicted, whatever else goes. */
class ImagePinningTest {

  private static final int KIB = 1024;

  @TempDir
  java.nio.file.Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(5);

  /** A cap of {@code capKib} and a low-water mark of almost nothing: a pass evicts all it may. */
  /** The evictor of the cache opened last. */
  private EvictorTurns evictor;

  private CacheDirectory open(int capKib) {
    evictor = new EvictorTurns();
    return CacheFixtures.open(settings(temp.resolve("cache"), (long) capKib * KIB, 0.01, Duration.ofMinutes(1)), clock, evictor);
  }

  private List<byte[]> blobs(int count, int size) {
    List<byte[]> blobs = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      blobs.add(content(random, size));
    }
    return blobs;
  }

  @Test
  void aPinnedImageSurvivesAnEvictionPassThatRemovesEverythingElse() throws Exception {
    try (CacheDirectory opened = open(400)) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      List<byte[]> pinnedBlobs = blobs(3, 20 * KIB);
      byte[] shared = pinnedBlobs.get(2);
      clock.advance(Duration.ofSeconds(1));
      Manifest pinned = storeImage(cache, pinnedBlobs);
      List<byte[]> otherBlobs = new ArrayList<>(blobs(2, 20 * KIB));
      otherBlobs.add(shared);
      clock.advance(Duration.ofSeconds(1));
      Manifest other = storeImage(cache, otherBlobs);
      List<Digest> loose = new ArrayList<>();
      for (byte[] blob : blobs(5, 20 * KIB)) {
        clock.advance(Duration.ofSeconds(1));
        loose.add(download(cache, blob, true));
      }

      ImageContent content = catalog.pinImage(TestPins.byDigest(pinned.digest()), pinned.digest());
      assertEquals(4, content.blobs(), "the manifest, its config and its two layers");
      assertEquals(0, content.missing());
      assertTrue(catalog.isPinnedImage(pinned.digest()));

      // The pinned image is the least recently used content: LRU alone would take it first. A
      // download of unknown size lands over the cap, and the pass it starts takes all it may,
      // that download included.
      clock.advance(Duration.ofSeconds(1));
      Digest trigger = download(cache, content(random, 300 * KIB), false);
      evictor.caughtUp().get();

      for (Digest digest : digestsOf(pinned, pinnedBlobs)) {
        assertTrue(cache.contains(digest), "pinned content stays: " + digest);
      }
      assertFalse(cache.contains(other.digest()), "the unpinned image's manifest went");
      assertFalse(cache.contains(Digest.sha256Of(otherBlobs.get(0))), "and its own layers");
      loose.forEach(digest -> assertFalse(cache.contains(digest), "every unpinned blob went"));
      assertFalse(cache.contains(trigger));
      CacheStats stats = cache.stats();
      assertEquals(4, stats.entries(), "only the pinned image is left");
      assertEquals(bytesOnDisk(cache), stats.storedBytes(), "the budget counts what is on disk");
      assertEquals(new ImageContent(4, stats.storedBytes(), 0), catalog.pinned());
    }
  }

  @Test
  void contentStoredAfterItsIndexWasPinnedIsPinnedToo() throws Exception {
    try (CacheDirectory opened = open(10_000)) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      List<byte[]> amd64Blobs = blobs(2, 4 * KIB);
      List<byte[]> arm64Blobs = blobs(2, 4 * KIB);
      Manifest amd64 = storeImage(cache, amd64Blobs);
      Manifest arm64 = imageManifest(arm64Blobs);
      Manifest index = indexManifest(List.of(amd64, arm64));
      cache.storeManifest(index);

      ImageContent pinned = catalog.pinImage(TestPins.byDigest(index.digest()), index.digest());
      assertEquals(4, pinned.blobs(), "the index, the amd64 manifest and its two blobs");
      assertEquals(1, pinned.missing(), "the arm64 manifest is not stored (its blobs are not even known yet)");

      // The arm64 platform is pulled later: manifest first, then its blobs, as a client pulls.
      cache.storeManifest(arm64);
      for (byte[] blob : arm64Blobs) {
        download(cache, blob, true);
      }
      assertEquals(new ImageContent(7, cache.stats().storedBytes(), 0), catalog.imageContent(index.digest()));
      assertEquals(7, catalog.pinned().blobs(), "everything stored of the index inherited its pin");
    }
  }

  @Test
  void unpinningOneImageKeepsWhatAnotherPinnedImageSharesAndLetsTheRestBeEvicted() throws Exception {
    try (CacheDirectory opened = open(200)) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      List<byte[]> base = blobs(2, 20 * KIB);
      List<byte[]> first = new ArrayList<>(base);
      first.add(content(random, 20 * KIB));
      List<byte[]> second = new ArrayList<>(base);
      second.add(content(random, 20 * KIB));
      Manifest one = storeImage(cache, first);
      Manifest two = storeImage(cache, second);
      catalog.pinImage(TestPins.byDigest(one.digest()), one.digest());
      catalog.pinImage(TestPins.byDigest(two.digest()), two.digest());

      ImageContent afterUnpin = catalog.unpinImage(one.digest()).orElseThrow();
      assertEquals(4, afterUnpin.blobs());
      assertFalse(catalog.isPinnedImage(one.digest()));
      assertEquals(4, catalog.pinned().blobs(), "the second image: manifest, shared config and layer, its own layer");

      download(cache, content(random, 150 * KIB), false);
      evictor.caughtUp().get();
      assertFalse(cache.contains(one.digest()), "the unpinned manifest could be evicted");
      assertFalse(cache.contains(Digest.sha256Of(first.get(2))), "and its own layer");
      for (Digest digest : digestsOf(two, second)) {
        assertTrue(cache.contains(digest), "the pinned image is whole: " + digest);
      }
    }
  }

  @Test
  void aPinIsRecordedUnderItsNameWhichUnpinsItWhateverTheNameMeansNow() throws Exception {
    try (CacheDirectory opened = open(10_000)) {
      ImageCatalog catalog = opened.catalog();
      Manifest one = storeImage(opened.blobs(), blobs(2, KIB));
      Manifest two = storeImage(opened.blobs(), blobs(2, KIB));
      PinName tag = new PinName("upstream.test", RepositoryName.of("team/app"), new Tag("1.0"));
      PinName other = new PinName("upstream.test", RepositoryName.of("team/app"), new Tag("latest"));

      catalog.pinImage(tag, one.digest());
      catalog.pinImage(other, one.digest());
      assertEquals(Optional.of(one.digest()), catalog.unpinName(tag));
      assertTrue(catalog.isPinnedImage(one.digest()), "the other name still pins it");
      assertEquals(Optional.empty(), catalog.unpinName(tag), "nothing is pinned under the name any more");
      assertEquals(Optional.of(one.digest()), catalog.unpinName(other));
      assertFalse(catalog.isPinnedImage(one.digest()));
      assertEquals(0, catalog.pinned().blobs());

      // Pinned again after the tag moved: the pin moves with it.
      catalog.pinImage(tag, one.digest());
      catalog.pinImage(tag, two.digest());
      assertFalse(catalog.isPinnedImage(one.digest()), "no other name pins the image the tag named before");
      assertEquals(Optional.of(two.digest()), catalog.unpinName(tag));
      assertEquals(0, catalog.pinned().blobs());

      // By digest: the image goes, whatever names pinned it.
      catalog.pinImage(tag, one.digest());
      catalog.pinImage(other, one.digest());
      assertTrue(catalog.unpinImage(one.digest()).isPresent());
      assertFalse(catalog.isPinnedImage(one.digest()));
      assertEquals(Optional.empty(), catalog.unpinName(tag));
      assertEquals(Optional.empty(), catalog.unpinName(other));
      assertEquals(Optional.empty(), catalog.unpinImage(one.digest()), "nothing pins the image any more");
    }
  }

  private static List<Digest> digestsOf(Manifest manifest, List<byte[]> blobs) {
    List<Digest> digests = new ArrayList<>();
    digests.add(manifest.digest());
    blobs.forEach(blob -> digests.add(Digest.sha256Of(blob)));
    return digests;
  }
}
