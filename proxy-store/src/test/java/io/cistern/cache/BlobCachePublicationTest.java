package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.ingest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Atomic publication, verification, manifests and tags, and recovery after an unclean stop. */
class BlobCachePublicationTest {

  @TempDir
  Path directory;

  private CacheDirectory open() {
    return CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC());
  }

  private static byte[] bytes(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  @Test
  void aVerifiedDownloadIsPublishedAtItsDigestPath() throws Exception {
    byte[] content = bytes("layer content");
    Digest digest = Digest.sha256Of(content);
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Ingest ingest = ingest(cache, digest, content.length);
      ingest.append(ByteBuffer.wrap(content));
      assertFalse(cache.contains(digest), "nothing is visible before publication");
      ingest.publish().join();

      Path stored = directory.resolve("blobs/sha256").resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
      assertArrayEquals(content, Files.readAllBytes(stored));
      assertEquals(stored, ingest.followers().finished().join());
      try (BlobContent.FileRegion read = cache.open(digest).orElseThrow()) {
        assertEquals(content.length, read.channel().size());
        assertEquals(content.length, read.length());
      }
      assertEquals(content.length, cache.stats().storedBytes());
      assertEquals(0, cache.stats().reservedBytes());
      assertNoPartials();
    }
  }

  @Test
  void wrongContentIsNeverPublished() throws Exception {
    Digest promised = Digest.sha256Of(bytes("the real thing"));
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Ingest ingest = ingest(cache, promised, 14);
      ingest.append(ByteBuffer.wrap(bytes("an impostor!!!")));
      assertThrows(ContentMismatchException.class, ingest::publish);

      assertFalse(cache.contains(promised));
      assertTrue(ingest.followers().finished().isCompletedExceptionally(), "readers are told");
      assertEquals(0, cache.stats().storedBytes());
      assertEquals(0, cache.stats().reservedBytes(), "the reservation is given back");
      assertNoPartials();
    }
  }

  @Test
  void aPublicationWhoseRowCannotBeWrittenLeavesNoFileOutsideTheBudget() throws Exception {
    byte[] content = bytes("a blob whose row is never written");
    Digest digest = Digest.sha256Of(content);
    Manifest manifest = Manifest.of(MediaTypes.OCI_MANIFEST, bytes("{\"schemaVersion\":2}"));
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Ingest ingest = ingest(cache, digest, content.length);
      ingest.append(ByteBuffer.wrap(content));
      SqliteClient.refuseNewBlobRows(directory);

      CompletableFuture<Path> stored = ingest.publish();
      assertTrue(ingest.followers().isVerified(), "followers had the verified bytes before the row was tried");
      CompletionException notStored = assertThrows(CompletionException.class, stored::join);
      assertInstanceOf(MetadataException.class, notStored.getCause());
      assertThrows(MetadataException.class, () -> cache.storeManifest(manifest));

      assertFalse(cache.contains(digest), "the renamed file went again with its row");
      assertFalse(cache.contains(manifest.digest()));
      assertTrue(ingest.followers().finished().isCompletedExceptionally(), "the download ended unstored");
      assertFalse(ingest.followers().hasFailed(), "for the cache: its readers go on with the verified bytes");
      assertEquals(0, cache.stats().reservedBytes(), "the reservation is given back");
      assertEquals(0, cache.stats().storedBytes());
      assertNoPartials();
    }
  }

  @Test
  void moreBytesThanAnnouncedFailTheAppend() throws Exception {
    byte[] content = bytes("12345");
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Ingest ingest = ingest(cache, Digest.sha256Of(content), 4);
      assertThrows(ContentMismatchException.class, () -> ingest.append(ByteBuffer.wrap(content)));
      ingest.abandon(new IllegalStateException("test"));
      assertEquals(0, cache.stats().reservedBytes(), "the reservation is given back");
      assertNoPartials();
    }
  }

  @Test
  void theLastByteOfADownloadWaitsForVerification() throws Exception {
    byte[] content = bytes("abcdef");
    Digest digest = Digest.sha256Of(content);
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Ingest ingest = ingest(cache, digest, content.length);
      GrowingBlob blob = ingest.followers();
      ingest.append(ByteBuffer.wrap(content, 0, 3));
      assertEquals(3, blob.readableLimit(5), "written bytes short of the end are readable");
      ingest.append(ByteBuffer.wrap(content, 3, 3));
      assertEquals(5, blob.readableLimit(5), "all written, but the last byte waits");
      CompletableFuture<Void> lastByte = blob.awaitReadable(5, 5);
      assertFalse(lastByte.isDone());
      ingest.publish();
      assertTrue(lastByte.isDone(), "the reader that waited for it is woken");
      assertEquals(6, blob.readableLimit(5));
      assertTrue(blob.awaitReadable(5, 5).isDone());
    }
  }

  @Test
  void manifestsAndTagsSurviveARestart() {
    Manifest manifest = Manifest.of(MediaTypes.OCI_MANIFEST, bytes("{\"schemaVersion\":2}"));
    TagKey key = new TagKey("docker.io", RepositoryName.of("library/alpine"), new Tag("3.20"));
    Instant resolved = Instant.ofEpochMilli(1_700_000_000_000L);
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      cache.storeManifest(manifest);
      opened.tags().put(new TagMapping(key, manifest.digest(), resolved));
    }
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Manifest read = cache.readManifest(manifest.digest()).orElseThrow();
      assertArrayEquals(manifest.bytes(), read.bytes());
      assertEquals(MediaTypes.OCI_MANIFEST, read.mediaType());
      assertEquals(new TagMapping(key, manifest.digest(), resolved), opened.tags().find(key).orElseThrow());
      assertEquals(1, cache.stats().entries());
    }
  }

  @Test
  void oneProcessOwnsACacheDirectory() {
    try (CacheDirectory opened = open()) {
      assertThrows(CacheDirectory.CacheInUseException.class, this::open);
    }
  }

  @Test
  void anOpenThatFailsLeavesTheDirectoryUnlocked() throws Exception {
    open().close();
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + directory.resolve(CacheDirectory.DATABASE_FILE));
         Statement statement = connection.createStatement()) {
      statement.executeUpdate("PRAGMA user_version = 99");
    }

    IllegalStateException newer = assertThrows(IllegalStateException.class, this::open);
    assertTrue(newer.getMessage().contains("newer"), newer.getMessage());
    // Not CacheInUseException: the failed open released its lock (and closed its pools).
    IllegalStateException again = assertThrows(IllegalStateException.class, this::open);
    assertFalse(again instanceof CacheDirectory.CacheInUseException, again.toString());
  }

  @Test
  void recoveryAfterAnUncleanStopLeavesFilesAndRowsInAgreement() throws Exception {
    byte[] kept = bytes("kept");
    byte[] lostRow = bytes("file without a row");
    byte[] lostFile = bytes("row without a file");
    CacheDirectory crashedDirectory = open();
    BlobCache crashed = crashedDirectory.blobs();
    storeBlob(crashed, kept);
    storeBlob(crashed, lostFile);
    Ingest interrupted = ingest(crashed, Digest.sha256Of(bytes("half")), 4);
    interrupted.append(ByteBuffer.wrap(bytes("ha")));
    crashedDirectory.close();
    // Simulate what a kill -9 can leave: no clean-stop marker (the close left none anyway, as a
    // download was under way), a temp file, a published file whose row was never written, a row
    // whose file was already unlinked.
    assertFalse(Files.exists(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER)));
    Path orphan = pathOf(Digest.sha256Of(lostRow));
    Files.createDirectories(orphan.getParent());
    Files.write(orphan, lostRow);
    Files.delete(pathOf(Digest.sha256Of(lostFile)));

    try (CacheDirectory recoveredDirectory = open()) {
      BlobCache recovered = recoveredDirectory.blobs();
      assertNoPartials();
      assertTrue(recovered.contains(Digest.sha256Of(kept)));
      assertTrue(recovered.contains(Digest.sha256Of(lostRow)), "a verified file is adopted");
      assertEquals(2, recovered.stats().entries());
      assertEquals(kept.length + lostRow.length, recovered.stats().storedBytes());
    }
  }

  private void storeBlob(BlobCache cache, byte[] content) throws Exception {
    Ingest ingest = ingest(cache, Digest.sha256Of(content), content.length);
    ingest.append(ByteBuffer.wrap(content));
    ingest.publish().join();
  }

  private Path pathOf(Digest digest) {
    return directory.resolve("blobs/sha256").resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
  }

  private void assertNoPartials() throws Exception {
    try (Stream<Path> files = Files.walk(directory)) {
      assertFalse(files.anyMatch(file -> file.toString().endsWith(".partial")), "no temp file is left");
    }
  }
}
