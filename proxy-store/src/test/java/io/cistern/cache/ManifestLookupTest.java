package io.cistern.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import java.io.RandomAccessFile;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** What the cache answers when a digest is asked for as a manifest, whatever is stored there. */
class ManifestLookupTest {

  @TempDir
  Path directory;

  private CacheDirectory open() {
    return CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC());
  }

  @Test
  void aBlobLargerThanAnyManifestIsNotReadToFindThatOut() throws Exception {
    // A sparse 3 GiB file: reading it whole would fail (no array holds it), so only a lookup that
    // checks the size first can answer.
    Digest layer = Digest.sha256Of("a layer of gigabytes".getBytes(StandardCharsets.UTF_8));
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Path file = cache.pathOf(layer);
      Files.createDirectories(file.getParent());
      try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
        sparse.setLength(3L << 30);
      }

      assertInstanceOf(ManifestLookup.NotAManifest.class, cache.lookUpManifest(layer));
      assertTrue(cache.readManifest(layer).isEmpty());
    }
  }

  @Test
  void aSmallLayerIsNotAManifest() throws Exception {
    byte[] gzip = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0};
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Digest layer = CacheFixtures.download(cache, gzip, true);

      assertInstanceOf(ManifestLookup.NotAManifest.class, cache.lookUpManifest(layer));
    }
  }

  @Test
  void aManifestStoredAsABlobTakesItsTypeFromTheDocument() throws Exception {
    Manifest manifest = Manifest.of(MediaTypes.DOCKER_MANIFEST,
        ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.DOCKER_MANIFEST + "\"}").getBytes(StandardCharsets.UTF_8));
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      CacheFixtures.download(cache, manifest.bytes(), false);

      ManifestLookup.Found found = assertInstanceOf(ManifestLookup.Found.class, cache.lookUpManifest(manifest.digest()));
      assertEquals(MediaTypes.DOCKER_MANIFEST, found.manifest().mediaType());
      assertArrayEquals(manifest.bytes(), found.manifest().bytes());
    }
  }

  @Test
  void theRowsMediaTypeComesBeforeTheDocuments() {
    // A document that names no type: only its row (the upstream's Content-Type) can tell.
    Manifest manifest = Manifest.of(MediaTypes.OCI_MANIFEST, "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8));
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      cache.storeManifest(manifest);

      ManifestLookup.Found found = assertInstanceOf(ManifestLookup.Found.class, cache.lookUpManifest(manifest.digest()));
      assertEquals(MediaTypes.OCI_MANIFEST, found.manifest().mediaType());
    }
  }

  @Test
  void theMediaTypeByDigestIsTheOneRecordedOnAStoredManifestsRow() throws Exception {
    Manifest manifest = Manifest.of(MediaTypes.OCI_MANIFEST, "{\"schemaVersion\":2}".getBytes(StandardCharsets.UTF_8));
    byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(StandardCharsets.UTF_8);
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      cache.storeManifest(manifest);
      Digest blob = CacheFixtures.download(cache, config, true);

      assertEquals(Optional.of(MediaTypes.OCI_MANIFEST), cache.mediaTypeOf(manifest.digest()));
      assertEquals(Optional.empty(), cache.mediaTypeOf(blob), "a config or layer has none");
      Digest absent = Digest.sha256Of("never stored".getBytes(StandardCharsets.UTF_8));
      assertEquals(Optional.empty(), cache.mediaTypeOf(absent), "nor what is not stored");
    }
  }

  @Test
  void aDocumentOfUnknowableTypeAndNothingStoredAreLeftToTheUpstream() throws Exception {
    byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(StandardCharsets.UTF_8);
    try (CacheDirectory opened = open()) {
      BlobCache cache = opened.blobs();
      Digest stored = CacheFixtures.download(cache, config, true);

      assertInstanceOf(ManifestLookup.Absent.class, cache.lookUpManifest(stored));
      assertInstanceOf(ManifestLookup.Absent.class,
          cache.lookUpManifest(Digest.sha256Of("never stored".getBytes(StandardCharsets.UTF_8))));
    }
  }
}
