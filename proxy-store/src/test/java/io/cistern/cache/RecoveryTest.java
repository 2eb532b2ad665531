package io.cistern.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Recovery beyond {@link BlobCachePublicationTest}'s basic case: a row without its file goes with
 * the tags that point at it, and a stop with a download under way counts as unclean, so that
 * download's temp file goes at the next start.
 */
class RecoveryTest {

  @TempDir
  Path directory;

  @Test
  void aRowWhoseFileIsGoneIsDroppedWithTheTagsThatPointAtIt() throws IOException {
    byte[] kept = "kept".getBytes(StandardCharsets.UTF_8);
    byte[] lost = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\"}".getBytes(StandardCharsets.UTF_8);
    byte[] orphan = "renamed into place just before the kill".getBytes(StandardCharsets.UTF_8);
    Digest keptDigest = Digest.sha256Of(kept);
    Digest lostDigest = Digest.sha256Of(lost);
    Digest orphanDigest = Digest.sha256Of(orphan);
    TagKey tag = new TagKey("upstream.test", RepositoryName.of("team/app"), new Tag("1.0"));

    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      store(cache, kept);
      cache.storeManifest(new Manifest(lostDigest, MediaTypes.OCI_MANIFEST, lost));
      opened.tags().put(new TagMapping(tag, lostDigest, Instant.now()));
    }
    // What a kill can leave: no marker, a temp file, a file whose row was never written, a row
    // whose file is gone.
    Files.delete(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER));
    Path target = DiskTier.pathOf(directory.resolve("blobs"), orphanDigest);
    Files.createDirectories(target.getParent());
    Files.write(target, orphan);
    Path temp = target.resolveSibling(orphanDigest.hex() + ".0000.partial");
    Files.write(temp, new byte[] {1, 2, 3});
    Files.delete(DiskTier.pathOf(directory.resolve("blobs"), lostDigest));

    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      assertEquals(List.of(), partials());
      assertTrue(SqliteClient.blob(cache.directory(), keptDigest).isPresent());
      assertEquals(orphan.length, SqliteClient.blob(cache.directory(), orphanDigest).orElseThrow().size(), "the orphan file is adopted");
      assertFalse(SqliteClient.blob(cache.directory(), lostDigest).isPresent(), "the row without a file is dropped");
      assertFalse(opened.tags().find(tag).isPresent(), "with the tag that pointed at it");
      assertEquals(2, cache.stats().entries());
      assertEquals(kept.length + orphan.length, cache.stats().storedBytes());
    }
  }

  @Test
  void aStopWithADownloadUnderWayIsNotMarkedCleanSoItsTempFileGoesAtTheNextStart() throws IOException {
    byte[] content = "half way".getBytes(StandardCharsets.UTF_8);
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Ingest partial = CacheFixtures.ingest(cache, Digest.sha256Of(content), content.length);
      partial.append(ByteBuffer.wrap(content, 0, 4));
      assertEquals(1, partials().size());
    }
    assertFalse(Files.exists(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER)));

    try (CacheDirectory opened = open()) {
      assertEquals(List.of(), partials());
    }
    assertTrue(Files.exists(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER)), "a quiet stop is marked clean");
  }

  @Test
  void aClosingCacheStartsNoDownload() throws IOException {
    CacheDirectory opened = open();
    BlobCache cache = opened.blobs();
    opened.close();

    assertThrows(IOException.class, () -> CacheFixtures.ingest(cache, Digest.sha256Of(new byte[] {1}), 1));
    assertEquals(List.of(), partials());
  }

  private CacheDirectory open() {
    return CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC());
  }

  private static void store(BlobCache cache, byte[] content) throws IOException {
    Ingest ingest = CacheFixtures.ingest(cache, Digest.sha256Of(content), content.length);
    ingest.append(ByteBuffer.wrap(content));
    ingest.publish().join();
  }

  private List<Path> partials() throws IOException {
    try (Stream<Path> files = Files.walk(directory)) {
      return files.filter(file -> file.getFileName().toString().endsWith(".partial")).toList();
    }
  }
}
