package io.cistern.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.CacheDirectory;
import io.cistern.testing.CisternCli;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The operators' commands on a cache directory while no server runs (the CLI opens it itself),
 * then on the same cache while a server runs (the CLI goes through its admin API, and the
 * server's own state shows the change).
 */
class CliTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String UPSTREAM = "upstream.test";
  private static final String APP = UPSTREAM + "/team/app:1.0";
  private static final String MULTI = UPSTREAM + "/team/multi:multi";

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static CountingRelay relay;
  private static String upstreams;
  private static final TestImage app = TestImage.random(81, 2, 50_000, "amd64");
  private static final TestImage multi = TestImage.index(List.of("amd64", "arm64"),
      List.of(TestImage.random(82, 2, 40_000, "amd64"), TestImage.random(83, 3, 40_000, "arm64")));

  @BeforeAll
  static void start() throws Exception {
    upstream.push("team/app", "1.0", app);
    upstream.push("team/multi", "multi", multi);
    relay = CountingRelay.to(upstream.port());
    upstreams = """
        upstreams:
          - host: %s
            url: %s
        """.formatted(UPSTREAM, relay.url());
  }

  @AfterAll
  static void stop() throws Exception {
    relay.close();
  }

  @Test
  void commandsWorkOnAStoppedCacheDirectoryAndThroughARunningServersAdminApi() throws Exception {
    Path cache = temp.resolve("site/cache");
    CisternCli stopped = CisternCli.forCache(temp.resolve("site/stopped.yml"), cache, 1, upstreams);

    // ---- no server: the CLI opens the cache directory itself ----
    stopped.run("warm", MULTI, "--platform", "linux/arm64").orFail();
    stopped.run("warm", APP).orFail();
    JsonNode images = JSON.readTree(stopped.run("ls", "--json").orFail().out());
    assertEquals(2, images.size());
    JsonNode appEntry = images.get(0);
    assertEquals("team/app", appEntry.get("repository").asText());
    assertEquals("1.0", appEntry.get("tag").asText());
    assertEquals(app.digest().toString(), appEntry.get("digest").asText());
    assertEquals(bytesOf(app.allContent()), appEntry.get("bytes").asLong(), "the manifest and its blobs");
    JsonNode multiEntry = images.get(1);
    assertEquals(1, multiEntry.get("missing").asInt(), "the amd64 platform was not warmed");
    assertEquals(bytesOf(multi.children().get(1).allContent()) + multi.manifest().bytes().length,
        multiEntry.get("bytes").asLong());
    String listing = stopped.run("ls").orFail().out();
    assertTrue(listing.startsWith("IMAGE"), listing);
    assertTrue(listing.contains(MULTI) && listing.contains("(+1 not cached)"), listing);
    assertEquals(2, stopped.run("ls", UPSTREAM + "/team/multi").orFail().out().lines().count(), "a header and one image");

    String stats = stopped.run("stats").orFail().out();
    assertTrue(stats.contains("no server is running"), stats);
    assertTrue(stats.contains("entries     10 blobs"), stats);
    assertTrue(stopped.run("pin", APP).orFail().out().startsWith("pinned " + APP), "pinned");
    CisternCli.Run refused = stopped.run("purge", APP);
    assertEquals(1, refused.exitCode());
    assertTrue(refused.err().contains("is pinned"), refused.err());
    assertTrue(stopped.run("unpin", APP).orFail().out().startsWith("unpinned " + APP));
    assertEquals(2, stopped.run("purge").exitCode(), "a usage error");
    assertEquals(1, stopped.run("pin", UPSTREAM + "/team/app:2.0").exitCode(), "an uncached image");

    // ---- a server runs: the same commands go through its admin API ----
    try (TestCistern server = TestCistern.fromYaml(temp.resolve("site"), """
        cache:
          directory: %s
        %s""".formatted(cache, upstreams))) {
      CacheDirectory served = server.cistern().cache();
      int adminPort = server.cistern().adminAddress().getPort();
      CisternCli running = CisternCli.forCache(temp.resolve("site/running.yml"), cache, adminPort, upstreams);
      assertEquals(200, server.get("/v2/team/app/manifests/1.0").statusCode());

      String runningStats = running.run("stats").orFail().out();
      assertTrue(runningStats.contains("admin API at http://127.0.0.1:" + adminPort), runningStats);
      assertTrue(runningStats.contains("hit ratio   100.0 % (1 hits, 0 misses"), runningStats);
      assertTrue(running.run("ls").orFail().out().contains(APP));

      running.run("pin", APP).orFail();
      assertTrue(served.catalog().isPinnedImage(app.digest()), "the server's own cache was changed");
      running.run("unpin", APP).orFail();
      assertFalse(served.catalog().isPinnedImage(app.digest()));

      CisternCli.Run outside = running.run("export", "--out", temp.resolve("app.tar").toString(), APP);
      assertEquals(1, outside.exitCode());
      assertTrue(outside.err().contains("only in admin.bundleDirectory"), outside.err());
      Path bundle = cache.resolve("bundles/app.tar");
      running.run("export", "--out", bundle.toString(), APP).orFail();
      String purged = running.run("purge", APP).orFail().out();
      assertTrue(purged.contains("purged " + APP + ": 4 blobs and manifests"), purged);
      assertFalse(served.blobs().contains(app.digest()));
      long tagRequests = relay.count("GET", path -> path.equals("/v2/team/app/manifests/1.0"));
      assertEquals(200, server.get("/v2/team/app/manifests/1.0").statusCode());
      assertEquals(tagRequests + 1, relay.count("GET", path -> path.equals("/v2/team/app/manifests/1.0")),
          "the purged tag was forgotten by the server too: it asked the upstream again");

      running.run("purge", APP).orFail();
      running.run("import", bundle.toString()).orFail();
      long manifestRequests = relay.count("GET", path -> path.startsWith("/v2/team/app/manifests/"));
      assertEquals(200, server.get("/v2/team/app/manifests/1.0").statusCode());
      assertEquals(manifestRequests, relay.count("GET", path -> path.startsWith("/v2/team/app/manifests/")),
          "the imported tag is served at once, from the cache");

      String aged = running.run("purge", "--older-than", "30d").orFail().out();
      assertTrue(aged.contains(": 0 blobs"), "nothing is that old: " + aged);
    }
  }

  @Test
  void theAdminApiAnswersBadRequestsWithAClearJsonError() throws Exception {
    try (TestCistern server = TestCistern.fromYaml(temp.resolve("api"), """
        cache:
          directory: %s
        %s""".formatted(temp.resolve("api/cache"), upstreams))) {
      URI admin = URI.create("http://127.0.0.1:" + server.cistern().adminAddress().getPort());
      HttpClient http = HttpClient.newHttpClient();
      record Case(String method, String path, String body, int status, String error) {}
      for (Case bad : List.of(
          new Case("POST", "/api/purge", "{}", 400, "either an image or olderThan"),
          new Case("POST", "/api/purge", "{\"olderThan\":\"soon\"}", 400, "not a duration"),
          new Case("POST", "/api/purge", "{\"olderThan\":\"9999999999999999d\"}", 400, "too long"),
          new Case("POST", "/api/pin", "null", 400, "must be JSON"),
          new Case("POST", "/api/pin", "not json", 400, "must be JSON"),
          new Case("POST", "/api/pin", "{\"image\":\"team/app:9\"}", 404, "is not cached"),
          new Case("POST", "/api/export", "{\"out\":\"%s\",\"images\":[\"team/app:1.0\"]}".formatted(
              temp.resolve("api/outside.tar")), 400, "not a file name in the bundle directory"),
          new Case("POST", "/api/warm", "{\"images\":[\"team/app\"],\"platforms\":[\"linux\"]}", 400, "os/architecture"),
          new Case("GET", "/api/images?limit=many", null, 400, "limit"),
          new Case("GET", "/api/jobs?id=999", null, 404, "no job 999"))) {
        HttpRequest.Builder request = HttpRequest.newBuilder(admin.resolve(bad.path()));
        request.method(bad.method(), bad.body() == null
            ? HttpRequest.BodyPublishers.noBody()
            : HttpRequest.BodyPublishers.ofString(bad.body()));
        if (bad.body() != null) {
          request.header("Content-Type", "application/json");
        }
        HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(bad.status(), response.statusCode(), bad + ": " + response.body());
        assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(""));
        assertTrue(JSON.readTree(response.body()).get("error").asText().contains(bad.error()), response.body());
      }
      HttpResponse<String> wrongMethod = http.send(HttpRequest.newBuilder(admin.resolve("/api/pin")).GET().build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(405, wrongMethod.statusCode());
      assertTrue(Files.notExists(temp.resolve("api/outside.tar")));
      HttpResponse<String> ancient = http.send(HttpRequest.newBuilder(admin.resolve("/api/purge"))
          .header("Content-Type", "application/json")
          .POST(HttpRequest.BodyPublishers.ofString("{\"olderThan\":\"36500000d\"}")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, ancient.statusCode(), "an age before 1970 purges what is older: nothing; " + ancient.body());
      assertEquals(0, JSON.readTree(ancient.body()).get("blobs").asInt());
    }
  }

  private static long bytesOf(List<TestImage.Blob> blobs) {
    return blobs.stream().mapToLong(blob -> blob.bytes().length).sum();
  }
}
