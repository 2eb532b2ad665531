package io.cistern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.BlobStream;
import io.cistern.testing.BoundedClients;
import io.cistern.testing.CisternProcess;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.LoopbackConfig;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.sqlite.SQLiteConfig;

/**
 * Cistern killed with SIGKILL in the middle of a download (the relay holds the upstream's answer,
 * so the download is certainly under way), restarted on the same cache directory: nothing torn is
 * left (no temp file, no metadata row without its file, no file without its row) and skopeo pulls
 * the image through it. The same holds when the metadata database is lost too: it is rebuilt
 * from the files.
 */
@Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CrashRecoveryTest {

  private static final int HOLD = 256 * 1024;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @RegisterExtension
  final BoundedClients clients = new BoundedClients();

  @TempDir
  Path temp;

  private final TestImage image = TestImage.random(30, 2, 3 << 20, "amd64");

  @Test
  void aCisternKilledMidDownloadRestartsWithNothingTornAndTheNextPullWorks() throws Exception {
    try (CountingRelay relay = CountingRelay.to(upstream.port())) {
      upstream.push("team/app", "1.0", image);
      Path cache = temp.resolve("cache");
      Path config = LoopbackConfig.write(temp.resolve("cistern.yml"), cache, relay.url().toString());
      TestImage.Blob layer = image.blobs().get(1);

      relay.holdAfter(HOLD);
      CisternProcess first = CisternProcess.start(config);
      try {
        HttpResponse<byte[]> manifest = clients.get(url(first, "/v2/team/app/manifests/1.0"), "Accept", MediaTypes.OCI_MANIFEST);
        assertEquals(200, manifest.statusCode());
        BlobStream stream = clients.open(url(first, "/v2/team/app/blobs/" + layer.digest()));
        assertTrue(stream.first().length > 0, "the layer is streaming, so its download is under way");
      } finally {
        first.kill();
      }

      assertFalse(partials(cache).isEmpty(), "the kill left the download's temp file behind");
      assertFalse(Files.exists(blobFile(cache, layer.digest())));
      relay.release();

      try (CisternProcess second = CisternProcess.start(config)) {
        assertEquals(List.of(), partials(cache), "recovery deleted the temp file before serving");
        assertTrue(second.output().stream().anyMatch(line -> line.contains("recovered the cache after an unclean stop")));
        assertSkopeoPullsTheImage(second);
      }

      assertEquals(List.of(), partials(cache));
      Set<String> files = storedFiles(cache);
      assertEquals(files, rows(cache), "every stored file has its row and every row its file");
      for (TestImage.Blob blob : image.allContent()) {
        assertTrue(files.contains(blob.digest().toString()), "cached: " + blob.digest());
        assertEquals(blob.digest(), Digest.sha256Of(Files.readAllBytes(blobFile(cache, blob.digest()))));
      }
    }
  }

  @Test
  void aCisternKilledMidDownloadWhoseDatabaseIsThenDeletedRebuildsItFromTheFiles() throws Exception {
    try (CountingRelay relay = CountingRelay.to(upstream.port())) {
      upstream.push("team/app", "1.0", image);
      Path cache = temp.resolve("cache");
      Path config = LoopbackConfig.write(temp.resolve("cistern.yml"), cache, relay.url().toString());
      TestImage.Blob imageConfig = image.blobs().get(0);
      TestImage.Blob layer = image.blobs().get(1);

      relay.holdAfter(HOLD);
      CisternProcess first = CisternProcess.start(config);
      try {
        HttpResponse<byte[]> manifest = clients.get(url(first, "/v2/team/app/manifests/1.0"), "Accept", MediaTypes.OCI_MANIFEST);
        assertEquals(200, manifest.statusCode());
        HttpResponse<byte[]> small = clients.get(url(first, "/v2/team/app/blobs/" + imageConfig.digest()));
        assertArrayEquals(imageConfig.bytes(), small.body());
        BlobStream stream = clients.open(url(first, "/v2/team/app/blobs/" + layer.digest()));
        assertTrue(stream.first().length > 0, "the layer is streaming, so its download is under way");
      } finally {
        first.kill();
      }
      assertFalse(partials(cache).isEmpty(), "the kill left the download's temp file behind");
      // The manifest is stored before it is answered; the config blob, verified and sent, may or
      // may not have been made durable before the kill: the rebuild adopts whatever was published.
      Set<String> published = storedFiles(cache);
      assertTrue(published.contains(image.digest().toString()), "the manifest was stored");
      // As an operator might: the database file goes, its write-ahead log stays.
      Files.delete(cache.resolve("metadata.db"));
      relay.release();

      try (CisternProcess second = CisternProcess.start(config)) {
        assertEquals(List.of(), partials(cache), "the rebuild deleted the temp file before serving");
        assertTrue(second.output().stream().anyMatch(line -> line.contains("rebuilt the metadata database")
            && line.contains(published.size() + " files adopted") && line.contains("cannot be rebuilt from files")),
            String.join("\n", second.output()));
        assertEquals(storedFiles(cache), rows(cache), "the files it found are counted again");
        assertSkopeoPullsTheImage(second);
      }
      assertEquals(2, relay.count("GET", path -> path.equals("/v2/team/app/manifests/1.0")),
          "the tag was lost with the database: resolved upstream again");
      assertEquals(List.of(), partials(cache));
      assertEquals(storedFiles(cache), rows(cache), "every stored file has its row and every row its file");
    }
  }

  /** skopeo pulls the image through {@code cistern}: its manifest and every blob, byte for byte. */
  private void assertSkopeoPullsTheImage(CisternProcess cistern) throws Exception {
    Path pulled = temp.resolve("pulled");
    new Skopeo(temp.resolve("skopeo")).copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/team/app:1.0",
        "dir:" + pulled);
    assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(pulled.resolve("manifest.json")));
    for (TestImage.Blob blob : image.blobs()) {
      assertArrayEquals(blob.bytes(), Files.readAllBytes(pulled.resolve(blob.digest().hex())), blob.digest().toString());
    }
  }

  private static URI url(CisternProcess cistern, String path) {
    return URI.create("http://" + cistern.hostPort() + path);
  }

  private static Path blobFile(Path cache, Digest digest) {
    return cache.resolve("blobs").resolve(digest.algorithm().prefix()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
  }

  private static List<Path> partials(Path cache) throws IOException {
    try (Stream<Path> files = Files.walk(cache.resolve("blobs"))) {
      return files.filter(file -> file.getFileName().toString().endsWith(".partial")).toList();
    }
  }

  /** Every published file under {@code blobs/}, as a digest string. */
  private static Set<String> storedFiles(Path cache) throws IOException {
    Path root = cache.resolve("blobs");
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(Files::isRegularFile)
          .filter(file -> !file.getFileName().toString().endsWith(".partial"))
          .map(file -> root.relativize(file))
          .map(relative -> relative.getName(0) + ":" + relative.getFileName())
          .collect(Collectors.toSet());
    }
  }

  /** The blob rows of the metadata database, read with a read-only connection. */
  private static Set<String> rows(Path cache) throws Exception {
    SQLiteConfig readOnly = new SQLiteConfig();
    readOnly.setReadOnly(true);
    Set<String> digests = new HashSet<>();
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + cache.resolve("metadata.db"), readOnly.toProperties());
        Statement statement = connection.createStatement();
        ResultSet rows = statement.executeQuery("SELECT digest FROM blobs")) {
      while (rows.next()) {
        digests.add(rows.getString(1));
      }
    }
    return digests;
  }
}
