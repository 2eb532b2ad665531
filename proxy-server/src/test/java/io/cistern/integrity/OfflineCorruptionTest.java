package io.cistern.integrity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.BlobCache;
import io.cistern.testing.CisternCli;
import io.cistern.testing.Damage;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage on an offline (air-gapped) site, where the cache holds the only copy: a layer cut short
 * answers 404 BLOB_UNKNOWN rather than a short 200; {@code verify --repair} keeps a damaged layer
 * in quarantine and names it as the only copy, and importing the bundle again restores it; an
 * import verifies every blob it copies, so a bundle with a flipped byte is refused.
 */
class OfflineCorruptionTest {

  private static final String IMAGE = "upstream.test/team/app:1.0";
  /** Nothing listens on the discard port: an offline site has no upstream to reach. */
  private static final String OFFLINE = """
      offline: true
      upstreams:
        - host: upstream.test
          url: http://127.0.0.1:9
      """;
  private static final TestImage image = TestImage.random(141, 2, 300_000, "amd64");
  private static final TestImage.Blob layer = image.blobs().get(1);
  private static final String LAYER_PATH = "/v2/team/app/blobs/" + layer.digest();

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static Path bundle;

  @BeforeAll
  static void fillACacheAndExportIt() throws Exception {
    upstream.push("team/app", "1.0", image);
    CisternCli filled = CisternCli.forCache(temp.resolve("filled/cli.yml"), temp.resolve("filled/cache"), 1, """
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(upstream.url()));
    filled.run("warm", IMAGE).orFail();
    bundle = temp.resolve("site.tar");
    filled.run("export", "--out", bundle.toString(), IMAGE).orFail();
  }

  @Test
  void aLayerCutShortOnAnOfflineSiteAnswers404NeverAShort200() throws Exception {
    try (TestCistern site = offlineSite("cut")) {
      BlobCache cache = site.cistern().cache().blobs();
      Damage.truncate(cache.pathOf(layer.digest()), 100);

      HttpResponse<byte[]> head = site.send("HEAD", LAYER_PATH);
      assertEquals(404, head.statusCode());
      HttpResponse<byte[]> get = site.get(LAYER_PATH);
      assertEquals(404, get.statusCode());
      assertTrue(new String(get.body(), StandardCharsets.UTF_8).contains("\"BLOB_UNKNOWN\""), "an OCI error body");
      List<Path> quarantined = quarantined(cache);
      assertEquals(1, quarantined.size());
      assertEquals(100, Files.size(quarantined.get(0)), "the only copy, damaged as it is, is kept");
    }
  }

  @Test
  void verifyRepairKeepsTheOnlyCopyInQuarantineNamesItAndAnImportRestoresIt() throws Exception {
    try (TestCistern site = offlineSite("flip")) {
      BlobCache cache = site.cistern().cache().blobs();
      Damage.flipByte(cache.pathOf(layer.digest()), 1234);
      CisternCli cli = CisternCli.forCache(temp.resolve("flip/cli.yml"), cache.directory(),
          site.cistern().adminAddress().getPort(), OFFLINE);

      CisternCli.Run repaired = cli.run("verify", "--repair");

      assertEquals(1, repaired.exitCode(), repaired.out() + repaired.err());
      List<Path> quarantined = quarantined(cache);
      assertEquals(1, quarantined.size());
      assertTrue(repaired.out().contains(layer.digest() + " digest mismatch"), repaired.out());
      assertTrue(repaired.out().contains("moved to " + quarantined.get(0)), repaired.out());
      assertTrue(repaired.out().contains("it was the only copy"), repaired.out());
      assertTrue(repaired.out().contains("restore it by importing a bundle that holds it"), repaired.out());
      assertEquals(layer.bytes().length, Files.size(quarantined.get(0)));
      assertEquals(404, site.get(LAYER_PATH).statusCode(), "no wrong byte is served meanwhile");

      // Through the running server, the bundle goes in its bundle directory.
      Path copy = Files.copy(bundle, cache.directory().resolve("bundles/site.tar"), StandardCopyOption.REPLACE_EXISTING);
      CisternCli.Run imported = cli.run("import", copy.toString()).orFail();
      assertTrue(imported.out().contains("1 blobs imported"), imported.out());
      HttpResponse<byte[]> restored = site.get(LAYER_PATH);
      assertEquals(200, restored.statusCode());
      assertArrayEquals(layer.bytes(), restored.body());
      assertEquals(0, cli.run("verify").exitCode());
    }
  }

  @Test
  void anImportOfABundleWithAFlippedByteIsRefusedNamingTheBlobAndKeepsNothingOfIt() throws Exception {
    byte[] tar = Files.readAllBytes(bundle);
    int start = Damage.positionOf(tar, Arrays.copyOf(layer.bytes(), 64));
    assertTrue(start > 0, "the layer is in the bundle");
    tar[start + layer.bytes().length / 2] ^= 0x01;
    Path damaged = Files.write(temp.resolve("damaged.tar"), tar);
    Path cache = temp.resolve("refused/cache");
    CisternCli cli = CisternCli.forCache(temp.resolve("refused/cli.yml"), cache, 1, OFFLINE);

    CisternCli.Run imported = cli.run("import", damaged.toString());

    assertEquals(1, imported.exitCode(), imported.out());
    assertTrue(imported.err().contains("blobs/sha256/" + layer.digest().hex() + " in the bundle does not match its digest"),
        imported.err());
    Path stored = cache.resolve("blobs/sha256").resolve(layer.digest().hex().substring(0, 2)).resolve(layer.digest().hex());
    assertFalse(Files.exists(stored));
    try (Stream<Path> files = Files.walk(cache.resolve("blobs"))) {
      assertTrue(files.noneMatch(file -> file.toString().endsWith(".partial")), "no temp file is left");
    }
    assertTrue(cli.run("ls").orFail().out().contains("nothing cached"), "no tag for an image missing a layer");
  }

  @Test
  void verifyOnAStoppedCacheReportsALayerCutShortAndRepairLeavesTheImageShortOfIt() throws Exception {
    Path cache = temp.resolve("stopped/cache");
    CisternCli cli = CisternCli.forCache(temp.resolve("stopped/cli.yml"), cache, 1, OFFLINE);
    cli.run("import", bundle.toString()).orFail();
    CisternCli.Run clean = cli.run("verify").orFail();
    assertTrue(clean.out().contains("verify: 4 blobs and manifests checked"), clean.out());
    assertTrue(clean.out().contains("nothing is damaged"), clean.out());
    Path file = cache.resolve("blobs/sha256").resolve(layer.digest().hex().substring(0, 2)).resolve(layer.digest().hex());
    Damage.truncate(file, 100);

    CisternCli.Run found = cli.run("verify");
    assertEquals(1, found.exitCode());
    assertTrue(found.out().contains(layer.digest() + " size mismatch (100 bytes on disk, " + layer.bytes().length
        + " recorded): not repaired"), found.out());
    CisternCli.Run repaired = cli.run("verify", "--repair");
    assertEquals(1, repaired.exitCode());
    assertTrue(repaired.out().contains("it was the only copy"), repaired.out());
    assertFalse(Files.exists(file));
    assertTrue(cli.run("ls").orFail().out().contains("(+1 not cached)"), "the image now shows what it lacks");
    assertEquals(0, cli.run("verify").exitCode(), "what is left is whole");
  }

  /** A fresh site with no upstream, the bundle imported while it was stopped, now serving. */
  private static TestCistern offlineSite(String name) throws Exception {
    Path cache = temp.resolve(name + "/cache");
    CisternCli.forCache(temp.resolve(name + "/cli.yml"), cache, 1, OFFLINE).run("import", bundle.toString()).orFail();
    return TestCistern.fromYaml(temp.resolve(name), "cache:\n  directory: " + cache + "\n" + OFFLINE);
  }

  private static List<Path> quarantined(BlobCache cache) throws Exception {
    if (!Files.isDirectory(cache.quarantineDirectory())) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(cache.quarantineDirectory())) {
      return files.toList();
    }
  }
}
