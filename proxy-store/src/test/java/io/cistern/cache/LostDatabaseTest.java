package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.bytesOnDisk;
import static io.cistern.cache.CacheFixtures.content;
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
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A start that finds the metadata database lost (deleted, empty, corrupt) while blob files are
 * stored rebuilds it from the files: they are counted and evictable again, temp files go, a
 * corrupt database is moved aside, and a file whose content does not match its name is not
 * adopted. Tags cannot come back: they lived only in the database.
 */
class LostDatabaseTest {

  private static final int KIB = 1024;
  private static final int LAYERS = 6;

  @TempDir
  Path directory;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(21);
  private final List<byte[]> layers = new ArrayList<>();
  private Manifest manifest;
  private final TagKey tag = new TagKey("upstream.test", RepositoryName.of("team/app"), new Tag("1.0"));
  /** The evictor of the cache opened last. */
  private EvictorTurns evictor;

  @Test
  void aDeletedDatabaseIsRebuiltSoFilesAreCountedAndEvictableAndTempFilesGo() throws Exception {
    fillAndClose();
    Path partial = leaveTempFile();
    Files.delete(database());

    try (CacheDirectory opened = open(1L << 30)) {
      assertAllAdopted(opened);
      assertFalse(Files.exists(partial), "the temp file is deleted");
      assertFalse(opened.tags().find(tag).isPresent(), "a tag lived only in the database");
    }
    // The files are under the cap again: a smaller one evicts them.
    long cap = 3 * 4 * KIB;
    try (CacheDirectory opened = open(cap)) {
      BlobCache cache = opened.blobs();
      evictor.caughtUp().join();
      assertTrue(cache.stats().evictedBlobs() > 0, "adopted files are evictable");
      assertTrue(cache.stats().storedBytes() <= cap, cache.stats().toString());
      assertEquals(cache.stats().storedBytes(), bytesOnDisk(cache), "every byte on disk is counted, and no more");
    }
  }

  @Test
  void aDatabaseOfGarbageIsMovedAsideAndRebuilt() throws Exception {
    fillAndClose();
    byte[] garbage = "this was never a SQLite database".repeat(64).getBytes(StandardCharsets.UTF_8);
    Files.write(database(), garbage);
    Path partial = leaveTempFile();

    try (CacheDirectory opened = open(1L << 30)) {
      assertAllAdopted(opened);
      assertFalse(Files.exists(partial));
    }
    List<Path> aside = movedAside("metadata.db.corrupt-");
    assertEquals(1, aside.size(), "moved aside, not deleted: " + aside);
    assertArrayEquals(garbage, Files.readAllBytes(aside.get(0)));
  }

  @Test
  void anEmptyDatabaseFileIsRebuilt() throws Exception {
    fillAndClose();
    Files.write(database(), new byte[0]);

    try (CacheDirectory opened = open(1L << 30)) {
      assertAllAdopted(opened);
    }
  }

  @Test
  void aDatabaseThatFailsSQLitesCheckAfterAnUncleanStopIsMovedAsideAndRebuilt() throws Exception {
    fillAndClose();
    Files.delete(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER));
    // A valid header, a damaged table page: it opens, and only SQLite's check finds the damage.
    try (RandomAccessFile file = new RandomAccessFile(database().toFile(), "rw")) {
      file.seek(4096);
      file.write(content(random, 4096));
    }

    try (CacheDirectory opened = open(1L << 30)) {
      assertAllAdopted(opened);
    }
    assertEquals(1, movedAside("metadata.db.corrupt-").size());
  }

  @Test
  void theWriteAheadLogOfADeletedDatabaseIsMovedAsideAndTheFilesAreAdopted() throws Exception {
    Path savedLog = directory.resolveSibling("saved-wal");
    try (CacheDirectory opened = open(1L << 30)) {
      store(opened);
      // What a kill -9 leaves: the log, not yet checkpointed into the database file.
      Files.copy(database().resolveSibling("metadata.db-wal"), savedLog, StandardCopyOption.REPLACE_EXISTING);
    }
    Files.delete(database());
    Files.copy(savedLog, database().resolveSibling("metadata.db-wal"));

    try (CacheDirectory opened = open(1L << 30)) {
      assertAllAdopted(opened);
    }
    assertEquals(1, movedAside("metadata.db-wal.orphaned-").size());
  }

  @Test
  void aFileWhoseContentDoesNotMatchItsNameIsNotAdopted() throws Exception {
    fillAndClose();
    Digest damaged = Digest.sha256Of(layers.get(0));
    byte[] flipped = layers.get(0).clone();
    flipped[100] ^= 1;
    Files.write(pathOf(damaged), flipped);
    Files.delete(database());

    try (CacheDirectory opened = open(1L << 30)) {
      BlobCache cache = opened.blobs();
      assertFalse(cache.contains(damaged), "never served");
      assertFalse(SqliteClient.blob(cache.directory(), damaged).isPresent());
      assertEquals(LAYERS, cache.stats().entries(), "the other layers and the manifest");
      assertEquals(bytesOnDisk(cache), cache.stats().storedBytes());
    }
    Path quarantined = onlyFileIn(directory.resolve(Quarantine.DIRECTORY));
    assertArrayEquals(flipped, Files.readAllBytes(quarantined), "kept in quarantine for a look, not deleted");
  }

  @Test
  void aFreshDirectoryIsNotARebuild() throws Exception {
    try (CacheDirectory opened = open(1L << 30)) {
      BlobCache cache = opened.blobs();
      assertEquals(0, cache.stats().entries());
    }
    assertEquals(List.of(), movedAside("metadata.db."));
    assertFalse(Files.exists(directory.resolve(Quarantine.DIRECTORY)));
  }

  private CacheDirectory open(long cap) {
    evictor = new EvictorTurns();
    return CacheFixtures.open(settings(directory, cap, 0.5, Duration.ofSeconds(30)), clock, evictor);
  }

  /** Stores the layers, an image manifest over them, and a tag; then stops cleanly. */
  private void fillAndClose() throws IOException {
    try (CacheDirectory opened = open(1L << 30)) {
      store(opened);
    }
  }

  private void store(CacheDirectory opened) throws IOException {
    for (int i = 0; i < LAYERS; i++) {
      layers.add(content(random, 4 * KIB));
    }
    manifest = CacheFixtures.storeImage(opened.blobs(), layers);
    opened.tags().put(new TagMapping(tag, manifest.digest(), clock.instant()));
  }

  /** Every layer and the manifest counted, with its size from the file; the manifest still known as one. */
  private void assertAllAdopted(CacheDirectory opened) {
    CacheStats stats = opened.blobs().stats();
    assertEquals(LAYERS + 1, stats.entries(), stats.toString());
    assertEquals(LAYERS * 4 * KIB + manifest.bytes().length, stats.storedBytes());
    for (byte[] layer : layers) {
      assertEquals(layer.length, SqliteClient.blob(directory, Digest.sha256Of(layer)).orElseThrow().size());
    }
    assertEquals(MediaTypes.OCI_MANIFEST, SqliteClient.blob(directory, manifest.digest()).orElseThrow().mediaType());
    assertEquals(LAYERS, opened.catalog().imageContent(manifest.digest()).blobs() - 1, "what the manifest refers to is known again");
  }

  /** A temp file as a kill -9 in the middle of a download leaves it. */
  private Path leaveTempFile() throws IOException {
    Digest digest = Digest.sha256Of(content(random, 16));
    Path partial = pathOf(digest).resolveSibling(digest.hex() + ".0000.partial");
    Files.createDirectories(partial.getParent());
    Files.write(partial, new byte[] {1, 2, 3});
    return partial;
  }

  private Path database() {
    return directory.resolve(CacheDirectory.DATABASE_FILE);
  }

  private Path pathOf(Digest digest) {
    return DiskTier.pathOf(directory.resolve("blobs"), digest);
  }

  private List<Path> movedAside(String prefix) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return files.filter(file -> file.getFileName().toString().startsWith(prefix)).toList();
    }
  }

  private static Path onlyFileIn(Path directory) throws IOException {
    try (var files = Files.list(directory)) {
      List<Path> all = files.toList();
      assertEquals(1, all.size(), "one file in " + directory + ": " + all);
      return all.get(0);
    }
  }
}
