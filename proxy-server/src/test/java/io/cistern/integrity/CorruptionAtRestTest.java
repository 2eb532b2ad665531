package io.cistern.integrity;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.BlobCache;
import io.cistern.testing.CisternCli;
import io.cistern.testing.CisternOnRelay;
import io.cistern.testing.Damage;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Damage to cached files at rest, on a running Cistern in front of a real Distribution upstream:
 * a file cut short is never served with its own length (a GET or HEAD fetches the blob again), a
 * flipped byte is found by {@code cistern verify} (through the server's admin API) and after
 * {@code --repair} the next pull fetches the right bytes; a pinned image's blob is kept in
 * quarantine and named; an export refuses to copy a damaged blob into a bundle.
 */
class CorruptionAtRestTest {

  private static final String IMAGE = "upstream.test/team/app:1.0";
  private static final TestImage image = TestImage.random(131, 2, 400_000, "amd64");
  private static final TestImage.Blob layer = image.blobs().get(1);
  private static final String LAYER_PATH = "/v2/team/app/blobs/" + layer.digest();

  @TempDir
  Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @RegisterExtension
  final CisternOnRelay site = new CisternOnRelay(upstream);

  @BeforeAll
  static void push() throws Exception {
    upstream.push("team/app", "1.0", image);
  }

  @Test
  void aLayerCutShortIsNeverServedWithItsOwnLengthAHeadAndAGetFetchItAgain() throws Exception {
    TestCistern cistern = site.cistern();
    assertArrayEquals(layer.bytes(), cistern.get(LAYER_PATH).body());
    cistern.awaitDownloadsStored();
    Path file = cache().pathOf(layer.digest());
    Damage.truncate(file, 1000);

    HttpResponse<byte[]> head = cistern.send("HEAD", LAYER_PATH);
    assertEquals(200, head.statusCode());
    assertEquals(String.valueOf(layer.bytes().length), head.headers().firstValue("Content-Length").orElseThrow(),
        "the blob's size, not the short file's");
    HttpResponse<byte[]> get = cistern.get(LAYER_PATH);
    assertEquals(200, get.statusCode());
    assertEquals(String.valueOf(layer.bytes().length), get.headers().firstValue("Content-Length").orElseThrow());
    assertArrayEquals(layer.bytes(), get.body(), "fetched again from the upstream");
    assertEquals(2, blobGets(), "once cold, once after the file was found cut short");
    cistern.awaitDownloadsStored();
    assertArrayEquals(layer.bytes(), Files.readAllBytes(file), "and stored whole again");

    List<Path> quarantined = quarantined();
    assertEquals(1, quarantined.size());
    assertEquals(1000, Files.size(quarantined.get(0)), "the short file is kept for a look, not deleted");
    Scrape metrics = Scrape.parse(cistern.admin("/metrics").body());
    assertEquals(1, metrics.value("cistern_cache_corrupt_blobs_total", "found_by", "read"));
    assertEquals(0, metrics.value("cistern_cache_corrupt_blobs_total", "found_by", "scrub"), "the scrub is off by default");
  }

  @Test
  void aFlippedByteIsFoundByVerifyAndAfterRepairTheNextPullFetchesTheRightBytes() throws Exception {
    TestCistern cistern = site.cistern();
    assertArrayEquals(layer.bytes(), cistern.get(LAYER_PATH).body());
    cistern.awaitDownloadsStored();
    Path file = cache().pathOf(layer.digest());
    Damage.flipByte(file, layer.bytes().length / 2);
    CisternCli cli = cli();

    CisternCli.Run found = cli.run("verify");
    assertEquals(1, found.exitCode(), found.out() + found.err());
    assertTrue(found.out().contains("1 damaged"), found.out());
    assertTrue(found.out().contains(layer.digest() + " digest mismatch (its bytes hash to sha256:"), found.out());
    assertTrue(found.err().contains("cistern verify --repair"), found.err());
    assertTrue(Files.exists(file), "without --repair nothing is moved");

    CisternCli.Run repaired = cli.run("verify", "--repair");
    assertEquals(1, repaired.exitCode());
    assertTrue(repaired.out().contains("moved to " + cache().quarantineDirectory()), repaired.out());
    assertTrue(repaired.out().contains("the next pull fetches it again"), repaired.out());
    assertFalse(Files.exists(file));
    assertEquals(1, quarantined().size());

    HttpResponse<byte[]> again = cistern.get(LAYER_PATH);
    assertEquals(200, again.statusCode());
    assertArrayEquals(layer.bytes(), again.body());
    assertEquals(2, blobGets(), "the pull after the repair fetched it from the upstream");
    cistern.awaitDownloadsStored();
    CisternCli.Run clean = cli.run("verify");
    assertEquals(0, clean.exitCode(), clean.out());
    assertTrue(clean.out().contains("verify: 1 blobs and manifests checked ("), clean.out());
    assertTrue(clean.out().contains("nothing is damaged"), clean.out());
  }

  @Test
  void aPinnedImagesDamagedBlobIsKeptInQuarantineAndNamedAsTheOnlyCopy() throws Exception {
    CisternCli cli = cli();
    cli.run("warm", IMAGE).orFail();
    cli.run("pin", IMAGE).orFail();
    Path file = cache().pathOf(layer.digest());
    Damage.flipByte(file, 3);

    CisternCli.Run repaired = cli.run("verify", "--repair");

    assertEquals(1, repaired.exitCode());
    assertTrue(repaired.out().contains(layer.digest() + " digest mismatch"), repaired.out());
    assertTrue(repaired.out().contains("it was the only copy (pinned"), repaired.out());
    List<Path> quarantined = quarantined();
    assertEquals(1, quarantined.size());
    assertTrue(repaired.out().contains("moved to " + quarantined.get(0)), repaired.out());
    assertEquals(layer.bytes().length, Files.size(quarantined.get(0)), "kept, never deleted");
    CisternCli.Run after = cli.run("verify");
    assertEquals(0, after.exitCode(), "the rest of the image is whole, and the damaged blob's row is gone: " + after.out());
  }

  @Test
  void anExportRefusesToCopyADamagedBlobAndNamesIt() throws Exception {
    CisternCli cli = cli();
    cli.run("warm", IMAGE).orFail();
    Damage.flipByte(cache().pathOf(layer.digest()), 99);
    Path out = cache().directory().resolve("bundles/site.tar");

    CisternCli.Run export = cli.run("export", "--out", out.toString(), IMAGE);

    assertEquals(1, export.exitCode(), export.out());
    assertTrue(export.err().contains("the cached copy of " + layer.digest() + " is damaged (its bytes hash to"),
        export.err());
    assertTrue(export.err().contains("no bundle was written"), export.err());
    assertFalse(Files.exists(out));
    try (Stream<Path> left = Files.list(out.getParent())) {
      assertEquals(List.of(), left.toList(), "not even a temp file");
    }
  }

  @Test
  void withAPaceSetTheServerRunsTheScrubAndStopsItWhenItStops() throws Exception {
    try (TestCistern scrubbing = TestCistern.fromYaml(temp.resolve("scrubbing"), """
        cache:
          directory: %s
          scrub:
            bytesPerSecond: 1GiB
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(temp.resolve("scrubbing/cache"), upstream.url()))) {
      assertTrue(scrubThreadAlive(), "started with the server");
      assertTrue(Scrape.parse(scrubbing.admin("/metrics").body()).has("cistern_cache_scrubbed_bytes_total"));
    }
    assertFalse(scrubThreadAlive(), "stopped before the cache closed");
  }

  private static boolean scrubThreadAlive() {
    return Thread.getAllStackTraces().keySet().stream().anyMatch(thread -> thread.getName().equals("cistern-scrub"));
  }

  private BlobCache cache() {
    return site.cistern().cistern().cache().blobs();
  }

  /** The CLI on this cache; while the server runs, it goes through the server's admin API. */
  private CisternCli cli() throws Exception {
    Path directory = cache().directory();
    return CisternCli.forCache(directory.resolveSibling("cli.yml"), directory,
        site.cistern().cistern().adminAddress().getPort(), "");
  }

  private long blobGets() {
    return site.relay().count("GET", path -> path.endsWith("/blobs/" + layer.digest()));
  }

  private List<Path> quarantined() throws Exception {
    Path directory = cache().quarantineDirectory();
    if (!Files.isDirectory(directory)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(directory)) {
      return files.toList();
    }
  }
}
