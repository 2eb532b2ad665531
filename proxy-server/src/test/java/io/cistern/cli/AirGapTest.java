package io.cistern.cli;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.testing.CisternCli;
import io.cistern.testing.Damage;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * An air-gapped site end to end: a Cistern filled from a real Distribution upstream (warmed
 * through its admin API while it runs) exports a bundle; the bundle is imported into another
 * cache with no reachable upstream, which then serves every image by tag and by digest to skopeo.
 */
class AirGapTest {

  private static final String UPSTREAM = "upstream.test";
  /** Nothing listens on the discard port: an offline site has no upstream to reach. */
  private static final String UNREACHABLE_UPSTREAM = """
      offline: true
      upstreams:
        - host: upstream.test
          url: http://127.0.0.1:9
      """;

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static Skopeo skopeo;
  private static Path bundle;
  private static final TestImage app = TestImage.random(71, 3, 200_000, "amd64");
  private static final TestImage multi = TestImage.index(List.of("amd64", "arm64"),
      List.of(TestImage.random(72, 2, 120_000, "amd64"), TestImage.random(73, 2, 120_000, "arm64")));

  @BeforeAll
  static void fillASiteAndExportIt() throws Exception {
    upstream.push("team/app", "1.0", app);
    upstream.push("team/multi", "multi", multi);
    skopeo = new Skopeo(temp.resolve("skopeo"));
    String upstreams = """
        upstreams:
          - host: %s
            url: %s
        """.formatted(UPSTREAM, upstream.url());
    try (TestCistern filled = TestCistern.fromYaml(temp.resolve("filled"), """
        cache:
          directory: %s
        %s""".formatted(temp.resolve("filled/cache"), upstreams))) {
      CisternCli cli = CisternCli.forCache(temp.resolve("filled/cli.yml"), temp.resolve("filled/cache"),
          filled.cistern().adminAddress().getPort(), upstreams);
      CisternCli.Run warm = cli.run("warm", UPSTREAM + "/team/app:1.0", UPSTREAM + "/team/multi:multi").orFail();
      int blobs = app.blobs().size() + multi.children().stream().mapToInt(platform -> platform.blobs().size()).sum();
      assertTrue(warm.out().contains("warm: 2 images, " + blobs + " blobs fetched"), warm.out());
      assertTrue(warm.out().contains("warm: done, " + blobs + "/" + blobs + " blobs"), warm.out());
      assertFalse(warm.out().contains("\r"), "plain lines when not on a terminal");

      // The running server's admin API writes bundles only in its bundle directory.
      bundle = temp.resolve("filled/cache/bundles/site.tar");
      CisternCli.Run export = cli.run("export", "--out", bundle.toString(), UPSTREAM + "/team/app:1.0",
          UPSTREAM + "/team/multi:multi").orFail();
      assertTrue(export.out().contains("export: 2 images"), export.out());
      assertTrue(Files.size(bundle) > 0);
      assertEquals(1, cli.run("export", "--out", bundle.toString(), UPSTREAM + "/team/app:1.0").exitCode(),
          "an existing bundle is never overwritten");
    }
  }

  @Test
  void anOfflineCisternServesEveryImportedImageByTagAndByDigestWithIdenticalDigests() throws Exception {
    Path cache = temp.resolve("offline/cache");
    CisternCli cli = CisternCli.forCache(temp.resolve("offline/cli.yml"), cache, 1, UNREACHABLE_UPSTREAM);
    CisternCli.Run imported = cli.run("import", bundle.toString()).orFail();
    assertTrue(imported.out().contains("import: 2 images"), imported.out());

    try (TestCistern site = TestCistern.fromYaml(temp.resolve("offline"), """
        cache:
          directory: %s
        %s""".formatted(cache, UNREACHABLE_UPSTREAM))) {
      String registry = "docker://" + site.hostPort();
      for (String reference : List.of("/team/app:1.0", "/team/app@" + app.digest())) {
        Path out = temp.resolve("pulled" + reference.replaceAll("[/:@]", "_"));
        skopeo.copy("--src-tls-verify=false", registry + reference, "dir:" + out);
        byte[] manifest = Files.readAllBytes(out.resolve("manifest.json"));
        assertEquals(app.digest(), Digest.sha256Of(manifest), "the same manifest digest as upstream: " + reference);
        for (TestImage.Blob blob : app.blobs()) {
          assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())), reference);
        }
      }
      for (String reference : List.of("/team/multi:multi", "/team/multi@" + multi.digest())) {
        Path out = temp.resolve("pulled" + reference.replaceAll("[/:@]", "_"));
        skopeo.copy("--all", "--src-tls-verify=false", registry + reference, "dir:" + out);
        assertEquals(multi.digest(), Digest.sha256Of(Files.readAllBytes(out.resolve("manifest.json"))), reference);
        for (TestImage platform : multi.children()) {
          for (TestImage.Blob blob : platform.blobs()) {
            assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())), reference);
          }
        }
      }

      HttpResponse<byte[]> unknownTag = site.get("/v2/team/app/manifests/2.0");
      assertEquals(404, unknownTag.statusCode());
      assertTrue(body(unknownTag).contains("MANIFEST_UNKNOWN"), body(unknownTag));
      HttpResponse<byte[]> unknownBlob = site.get("/v2/team/app/blobs/" + Digest.sha256Of(new byte[] {1}));
      assertEquals(404, unknownBlob.statusCode());
      assertTrue(body(unknownBlob).contains("BLOB_UNKNOWN"), body(unknownBlob));
    }
  }

  @Test
  void aTruncatedImportReportsTheErrorLeavesNothingPartialAndARerunCompletes() throws Exception {
    // Cut the bundle in the middle of a layer of the multi-platform image.
    byte[] whole = Files.readAllBytes(bundle);
    TestImage.Blob layer = multi.children().get(1).blobs().get(1);
    int layerStart = Damage.positionOf(whole, Arrays.copyOf(layer.bytes(), 64));
    assertTrue(layerStart > 0, "the layer is in the bundle");
    Path truncated = temp.resolve("truncated.tar");
    Files.write(truncated, Arrays.copyOf(whole, layerStart + layer.bytes().length / 2));

    Path cache = temp.resolve("interrupted/cache");
    CisternCli cli = CisternCli.forCache(temp.resolve("interrupted/cli.yml"), cache, 1, UNREACHABLE_UPSTREAM);
    CisternCli.Run interrupted = cli.run("import", truncated.toString());
    assertEquals(1, interrupted.exitCode());
    assertTrue(interrupted.err().contains("ends in the middle of blobs/sha256/" + layer.digest().hex()), interrupted.err());

    assertFalse(Files.exists(blobPath(cache, layer.digest())), "the cut layer is not in the cache");
    try (Stream<Path> files = Files.walk(cache.resolve("blobs"))) {
      assertTrue(files.noneMatch(file -> file.getFileName().toString().endsWith(".partial")), "no temp file is left");
    }
    for (Digest manifest : List.of(app.digest(), multi.digest(), multi.children().get(1).digest())) {
      assertFalse(Files.exists(blobPath(cache, manifest)), "no manifest before all it refers to: " + manifest);
    }
    assertTrue(cli.run("ls").orFail().out().contains("nothing cached"), "and no tag");
    String stats = cli.run("stats", "--json").orFail().out();
    try (Stream<Path> files = Files.walk(cache.resolve("blobs"))) {
      long stored = files.filter(Files::isRegularFile).count();
      assertTrue(stored > 0, "what was whole before the cut was kept");
      assertTrue(stats.contains("\"entries\" : " + stored), "every file has its row: " + stats);
    }

    CisternCli.Run rerun = cli.run("import", bundle.toString()).orFail();
    assertTrue(rerun.out().contains("already cached"), "the rerun skipped what was imported: " + rerun.out());
    String listing = cli.run("ls").orFail().out();
    assertTrue(listing.contains(UPSTREAM + "/team/app:1.0"), listing);
    assertTrue(listing.contains(UPSTREAM + "/team/multi:multi"), listing);
    for (TestImage image : List.of(app, multi)) {
      for (TestImage.Blob blob : image.allContent()) {
        assertArrayEquals(blob.bytes(), Files.readAllBytes(blobPath(cache, blob.digest())));
      }
    }
  }

  private static Path blobPath(Path cache, Digest digest) {
    return cache.resolve("blobs/sha256").resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
  }

  private static String body(HttpResponse<byte[]> response) {
    return new String(response.body(), StandardCharsets.UTF_8);
  }
}
