package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.download;
import static io.cistern.cache.CacheFixtures.storeImage;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.Set;
import java.util.concurrent.Executor;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage at rest: a file cut short is never handed out (its size is checked on every open and
 * HEAD, against the size recorded on it at publication, with no database lookup), a wrong byte is
 * found by a check that re-hashes the file, and a repair moves the file to quarantine and drops
 * its row without ever losing a copy published meanwhile.
 */
class BlobIntegrityTest {

  @TempDir
  Path directory;

  private final Random random = new Random(13);
  /** The row drops that reads queue, run when the test says. */
  private final List<Runnable> queued = new ArrayList<>();
  private final Executor later = queued::add;

  @BeforeEach
  void theseTestsNeedUserAttributes() {
    assertTrue(RecordedSizes.supported(directory), "the test directory's file system keeps user attributes");
  }

  @Test
  void aFileCutShortIsNeverOpenedNorSizedItGoesToQuarantineAndTheBlobCanBeStoredAgain() throws Exception {
    byte[] content = content(300_000);
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Digest digest = download(cache, content, true);
      assertEquals(OptionalLong.of(content.length), RecordedSizes.read(cache.pathOf(digest)),
          "the size is recorded on the file at publication");
      truncate(cache.pathOf(digest), 1000);

      assertEquals(Optional.empty(), cache.sizeOf(digest), "a HEAD misses");
      assertEquals(Optional.empty(), cache.open(digest), "and so does a GET: the file went at the HEAD");
      assertFalse(cache.contains(digest), "so a download can publish it again");
      List<Path> quarantined = quarantined(cache);
      assertEquals(1, quarantined.size());
      assertEquals(1000, Files.size(quarantined.get(0)), "the damaged file is kept, not deleted");
      assertEquals(1, cache.corruptBlobsFoundOnRead());

      runQueued();
      assertTrue(SqliteClient.blob(cache.directory(), digest).isEmpty(), "its row is dropped off the reader's thread");
      assertEquals(0, cache.stats().entries());
      assertEquals(0, cache.stats().storedBytes());

      download(cache, content, true);
      try (FileChannel channel = cache.open(digest).orElseThrow().channel()) {
        assertEquals(content.length, channel.size());
      }
      assertEquals(1, cache.stats().entries());
      assertEquals(content.length, cache.stats().storedBytes());
    }
  }

  @Test
  void aRowDropQueuedByAReadSparesTheBlobPublishedAgainBeforeItRuns() throws Exception {
    byte[] content = content(50_000);
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Digest digest = download(cache, content, true);
      truncate(cache.pathOf(digest), 10);
      assertEquals(Optional.empty(), cache.open(digest));

      download(cache, content, true);
      runQueued();

      assertEquals(content.length, SqliteClient.blob(cache.directory(), digest).orElseThrow().size(), "the new copy keeps its row");
      assertEquals(1, cache.stats().entries());
      assertEquals(content.length, cache.stats().storedBytes());
      assertTrue(cache.open(digest).isPresent());
    }
  }

  @Test
  void aFileWithoutItsSizeRecordedIsCheckedAgainstItsRowAndThenGetsIt() throws Exception {
    byte[] content = content(20_000);
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Digest digest = download(cache, content, true);
      Path file = cache.pathOf(digest);
      removeRecordedSize(file);

      cache.open(digest).orElseThrow().close();
      assertEquals(OptionalLong.of(content.length), RecordedSizes.read(file), "written from the row at its first hit");

      removeRecordedSize(file);
      truncate(file, 100);
      assertEquals(Optional.empty(), cache.open(digest), "a file cut short is caught through its row");
    }
  }

  @Test
  void onAFileSystemWithoutUserAttributesTheSizeComesFromMemoryOrTheRow() throws Exception {
    byte[] content = content(20_000);
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later);
         // The cache's database, opened a second time: for rows to read sizes from.
         MetadataDatabase database = MetadataDatabase.open(settings().directory().resolve(CacheDirectory.DATABASE_FILE), 2, null)) {
      BlobCache cache = opened.blobs();
      Digest stored = download(cache, content, true);
      BlobRows rows = new BlobRows(database);
      RecordedSizes withoutAttributes = new RecordedSizes(
          digest -> rows.find(digest).map(row -> OptionalLong.of(row.size())).orElse(OptionalLong.empty()), false);
      Digest published = Digest.sha256Of(new byte[] {1, 2, 3});
      Path nowhere = directory.resolve("no-such-file");

      withoutAttributes.record(nowhere, published, 3);
      assertEquals(OptionalLong.of(3), withoutAttributes.recorded(published, nowhere), "remembered at publication");
      assertEquals(OptionalLong.of(content.length), withoutAttributes.recorded(stored, nowhere), "read from its row");
      assertEquals(OptionalLong.empty(), withoutAttributes.recorded(Digest.sha256Of(new byte[] {4}), nowhere),
          "nothing recorded: nothing to check against");
      assertFalse(RecordedSizes.read(cache.pathOf(stored)).isEmpty(), "the file's own attribute is untouched");
    }
  }

  @Test
  void aFlippedByteIsFoundByACheckAndARepairQuarantinesTheFileAndDropsItsRow() throws Exception {
    byte[] content = content(3 * BlobCheck.CHUNK + 17);
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Digest digest = download(cache, content, true);
      flipByte(cache.pathOf(digest), 2 * BlobCheck.CHUNK + 5);
      assertTrue(cache.open(digest).map(this::close).orElse(false),
          "a hit checks the size, not the digest: the right size with a wrong byte is opened");

      BlobRecord row = cache.storedAfter(null, 10).get(0);
      long[] read = {0};
      BlobCheck check = cache.check(row, bytes -> read[0] += bytes).orElseThrow();
      assertEquals(BlobCheck.Problem.DIGEST_MISMATCH, check.problem());
      assertTrue(check.detail().startsWith("its bytes hash to sha256:"), check.detail());
      assertEquals(content.length, read[0], "every byte was read, through the pacer's hook");

      BlobCache.Repair repair = cache.repair(check);
      assertTrue(repair.rowDropped());
      assertFalse(repair.replacedMeanwhile());
      assertEquals(cache.quarantineDirectory(), repair.quarantined().getParent());
      byte[] kept = Files.readAllBytes(repair.quarantined());
      assertEquals(content.length, kept.length);
      assertEquals((byte) (content[2 * BlobCheck.CHUNK + 5] ^ 0xff), kept[2 * BlobCheck.CHUNK + 5]);
      assertFalse(cache.contains(digest));
      assertEquals(0, cache.stats().entries());
      assertEquals(0, cache.stats().storedBytes());
    }
  }

  @Test
  void aCheckOfAWholeFileFindsNothingAndRecordsItsSizeWhenItHadNone() throws Exception {
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Digest digest = download(cache, content(5000), true);
      removeRecordedSize(cache.pathOf(digest));

      BlobCheck check = cache.check(cache.storedAfter(null, 1).get(0), BlobCheck.Reads.UNPACED).orElseThrow();

      assertTrue(check.intact());
      assertEquals(OptionalLong.of(5000), RecordedSizes.read(cache.pathOf(digest)));
      assertThrows(IllegalArgumentException.class, () -> cache.repair(check));
    }
  }

  @Test
  void aRowWithoutItsFileIsFoundMissingAndARepairDropsItButAnEvictedBlobIsNoProblem() throws Exception {
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Digest lost = download(cache, content(1000), true);
      Files.delete(cache.pathOf(lost));
      BlobCheck check = cache.check(SqliteClient.blob(cache.directory(), lost).orElseThrow(), BlobCheck.Reads.UNPACED).orElseThrow();
      assertEquals(BlobCheck.Problem.MISSING, check.problem());
      BlobCache.Repair repair = cache.repair(check);
      assertNull(repair.quarantined());
      assertTrue(repair.rowDropped());
      assertEquals(0, cache.stats().entries());

      Digest evicted = download(cache, content(1000), true);
      BlobRecord row = SqliteClient.blob(cache.directory(), evicted).orElseThrow();
      opened.catalog().purgeOlderThan(Instant.now().plusSeconds(60));
      assertEquals(Optional.empty(), cache.check(row, BlobCheck.Reads.UNPACED), "gone with its row: not damaged");
    }
  }

  @Test
  void aRepairLeavesAWholeCopyPublishedSinceTheCheckAlone() throws Exception {
    byte[] content = content(40_000);
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Digest digest = download(cache, content, true);
      flipByte(cache.pathOf(digest), 7);
      BlobCheck check = cache.check(cache.storedAfter(null, 1).get(0), BlobCheck.Reads.UNPACED).orElseThrow();
      assertEquals(BlobCheck.Problem.DIGEST_MISMATCH, check.problem());
      // Meanwhile a client's read set it aside (say) and a download published it again.
      Files.delete(cache.pathOf(digest));
      download(cache, content, true);

      BlobCache.Repair repair = cache.repair(check);

      assertTrue(repair.replacedMeanwhile());
      assertFalse(repair.rowDropped());
      assertArrayEquals(content, Files.readAllBytes(cache.pathOf(digest)), "the new copy is in place");
      assertTrue(SqliteClient.blob(cache.directory(), digest).isPresent());
      assertEquals(List.of(), quarantined(cache));
    }
  }

  @Test
  void aDamagedManifestIsNotServedFromDiskItIsAbsentSoTheUpstreamIsAskedAgain() throws Exception {
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      Manifest manifest = storeImage(cache, List.of(content(100), content(200)));
      flipByte(cache.pathOf(manifest.digest()), 10);

      assertInstanceOf(ManifestLookup.Absent.class, cache.lookUpManifest(manifest.digest()));
      assertFalse(cache.contains(manifest.digest()));
      assertEquals(1, quarantined(cache).size());
    }
  }

  @Test
  void theRowsAreWalkedInDigestOrderPageByPage() throws Exception {
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      List<String> stored = new ArrayList<>();
      for (int i = 0; i < 7; i++) {
        stored.add(download(cache, content(100 + i), true).toString());
      }
      List<String> walked = new ArrayList<>();
      Digest after = null;
      for (List<BlobRecord> page = cache.storedAfter(null, 3); !page.isEmpty(); page = cache.storedAfter(after, 3)) {
        assertTrue(page.size() <= 3);
        for (BlobRecord row : page) {
          walked.add(row.digest().toString());
          after = row.digest();
        }
      }
      assertEquals(stored.stream().sorted().toList(), walked);
    }
  }

  @Test
  void theUpstreamsHoldingABlobAreThoseOfTheRepositoriesOfTheManifestsReferringToIt() throws Exception {
    try (CacheDirectory opened = CacheDirectory.open(settings(), Clock.systemUTC(), later)) {
      BlobCache cache = opened.blobs();
      ImageCatalog catalog = opened.catalog();
      byte[] layer = content(300);
      Manifest manifest = storeImage(cache, List.of(content(100), layer));
      opened.tags().put(new TagMapping(new TagKey("a.test", RepositoryName.of("team/app"), new Tag("1")), manifest.digest(),
          Instant.now()));
      opened.tags().link("b.test", RepositoryName.of("mirror/app"), manifest.digest());

      assertEquals(Set.of("a.test", "b.test"), catalog.upstreamsHolding(Digest.sha256Of(layer)));
      assertEquals(Set.of(), catalog.upstreamsHolding(download(cache, content(10), true)));
    }
  }

  private CacheSettings settings() {
    return CacheFixtures.settings(directory.resolve("cache"), 1L << 30, 0.9, java.time.Duration.ofSeconds(5));
  }

  private byte[] content(int size) {
    return CacheFixtures.content(random, size);
  }

  private boolean close(BlobContent content) {
    content.close();
    return true;
  }

  private void runQueued() {
    List<Runnable> tasks = List.copyOf(queued);
    queued.clear();
    tasks.forEach(Runnable::run);
  }

  private static List<Path> quarantined(BlobCache cache) throws IOException {
    if (!Files.isDirectory(cache.quarantineDirectory())) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(cache.quarantineDirectory())) {
      return files.toList();
    }
  }

  private static void truncate(Path file, long size) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.WRITE)) {
      channel.truncate(size);
    }
  }

  private static void flipByte(Path file, long position) throws IOException {
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
      ByteBuffer one = ByteBuffer.allocate(1);
      channel.read(one, position);
      one.flip();
      one.put(0, (byte) (one.get(0) ^ 0xff));
      channel.write(one, position);
    }
  }

  private static void removeRecordedSize(Path file) throws IOException {
    Files.getFileAttributeView(file, UserDefinedFileAttributeView.class).delete(RecordedSizes.ATTRIBUTE);
  }
}
