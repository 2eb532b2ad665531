package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin listener against a real upstream and a real client: a skopeo pull moves the counters
 * by exactly what it fetched, and the health endpoints say what Kubernetes needs to know.
 */
class MetricsAndHealthTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String UPSTREAM = "upstream.test";

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static Skopeo skopeo;
  private static final TestImage image = TestImage.random(21, 3, 120_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    upstream.push("team/app", "1.0", image);
    skopeo = new Skopeo(temp.resolve("skopeo"));
  }

  @Test
  void aColdPullCountsMissesAndUpstreamBytesAndAWarmPullCountsHitsAndCacheBytes() throws Exception {
    long blobBytes = image.blobs().stream().mapToLong(blob -> blob.bytes().length).sum();
    long manifestBytes = image.manifest().bytes().length;
    int blobs = image.blobs().size();
    try (TestCistern cistern = TestCistern.fromYaml(temp.resolve("metrics"), """
        cache:
          directory: %s
          maxBytes: 3GiB
        upstreams:
          - host: %s
            url: %s
        """.formatted(temp.resolve("metrics/cache"), UPSTREAM, upstream.url()))) {
      String source = "docker://" + cistern.hostPort() + "/team/app:1.0";

      skopeo.copy("--src-tls-verify=false", source, "dir:" + temp.resolve("cold"));
      cistern.awaitDownloadsStored();
      Scrape cold = scrape(cistern);
      assertEquals(blobs, cold.value("cistern_cache_misses_total", "kind", "blob"), "every blob was a miss");
      assertEquals(1, cold.value("cistern_cache_misses_total", "kind", "manifest"), "the tag was a miss");
      assertEquals(0, cold.sum("cistern_cache_hits_total"));
      assertEquals(blobBytes + manifestBytes, cold.value("cistern_served_bytes_total", "source", "upstream"),
          "bytes streamed from the upstream's downloads");
      assertEquals(0, cold.value("cistern_served_bytes_total", "source", "cache"));
      assertEquals(blobs + 1, cold.value("cistern_upstream_requests_total", "upstream", UPSTREAM, "status", "200"),
          "one upstream GET for the manifest and one per blob");
      assertEquals(blobs + 1, cold.sum("cistern_upstream_requests_total"), "and nothing else reached the upstream");
      assertEquals(blobBytes + manifestBytes, cold.value("cistern_cache_size_bytes"), "everything fetched is stored");
      assertEquals(blobs + 1, cold.value("cistern_cache_entries"));
      assertEquals(3L << 30, cold.value("cistern_cache_max_bytes"));

      skopeo.copy("--src-tls-verify=false", source, "dir:" + temp.resolve("warm"));
      Scrape warm = scrape(cistern);
      assertEquals(blobs, warm.value("cistern_cache_hits_total", "kind", "blob"), "every blob was a hit");
      assertEquals(1, warm.value("cistern_cache_hits_total", "kind", "manifest"), "the fresh tag was a hit");
      assertEquals(blobs, warm.value("cistern_cache_misses_total", "kind", "blob"), "misses did not move");
      assertEquals(1, warm.value("cistern_cache_misses_total", "kind", "manifest"));
      assertEquals(blobBytes + manifestBytes, warm.value("cistern_served_bytes_total", "source", "cache"));
      assertEquals(blobBytes + manifestBytes, warm.value("cistern_served_bytes_total", "source", "upstream"),
          "nothing more came from the upstream");
      assertEquals(blobs + 1, warm.sum("cistern_upstream_requests_total"), "the warm pull never reached the upstream");
      assertEquals(2 * blobs, warm.value("cistern_requests_seconds_count", "route", "blob", "method", "GET", "status", "200"));
      assertEquals(2, warm.value("cistern_requests_seconds_count", "route", "manifest", "method", "GET", "status", "200"));
      assertEquals(2 * blobs, warm.value("cistern_requests_seconds_bucket", "route", "blob", "method", "GET",
          "status", "200", "le", "+Inf"), "latencies are a histogram");
      assertEquals(0, warm.value("cistern_downloads_in_flight"));
      assertEquals(0, warm.value("cistern_upstream_token_fetches_total", "upstream", UPSTREAM), "an anonymous upstream");
      assertEquals(0, warm.value("cistern_cache_eviction_passes_total") + warm.value("cistern_cache_evicted_bytes_total"),
          "nothing was over the cap");
      assertTrue(warm.has("cistern_cache_evicted_blobs_total"));
      assertTrue(warm.has("jvm_memory_used_bytes"), "JVM meters are bound");
      assertTrue(warm.has("jvm_gc_pause_seconds_count") || warm.has("jvm_gc_memory_allocated_bytes_total"), "GC meters are bound");
      assertTrue(warm.has("netty_allocator_memory_used"), "Netty's allocator memory is bound:\n" + warm);
      assertEquals(1, warm.value("hikaricp_connections_max", "pool", "cistern-eviction"), "the metadata pools' meters are bound");
      assertTrue(warm.value("hikaricp_connections_acquire_seconds_count", "pool", "cistern-metadata") > 0,
          "requests borrowed metadata connections");
      assertEquals(0, warm.sum("hikaricp_connections_timeout_total"), "and none waited out a pool");
    }
  }

  @Test
  void theMetricsEndpointSpeaksPrometheusTextFormat() throws Exception {
    try (TestCistern cistern = TestCistern.forUpstream(temp.resolve("format"), upstream.url())) {
      HttpResponse<String> metrics = cistern.admin("/metrics");
      assertEquals(200, metrics.statusCode());
      assertTrue(metrics.headers().firstValue("Content-Type").orElseThrow().startsWith("text/plain; version=0.0.4"));
      assertTrue(metrics.body().contains("# TYPE cistern_cache_hits_total counter"), metrics.body());
      assertTrue(metrics.body().contains("# TYPE cistern_cache_size_bytes gauge"), metrics.body());
      assertEquals(404, cistern.admin("/nothing-here").statusCode());
    }
  }

  @Test
  void healthzSaysTheProcessIsAlive() throws Exception {
    try (TestCistern cistern = TestCistern.forUpstream(temp.resolve("healthz"), upstream.url())) {
      HttpResponse<String> health = cistern.admin("/healthz");
      assertEquals(200, health.statusCode());
      assertEquals("ok\n", health.body());
    }
  }

  @Test
  void readyzFailsWhileTheCacheDirectoryCannotBeWrittenAndRecoversAfter() throws Exception {
    Path cache = temp.resolve("unwritable/cache");
    try (TestCistern cistern = TestCistern.forUpstream(temp.resolve("unwritable"), upstream.url())) {
      JsonNode ready = readyz(cistern, 200);
      assertTrue(ready.path("ready").asBoolean());
      ready.path("checks").fields().forEachRemaining(check -> assertEquals("ok", check.getValue().asText(), check.getKey()));

      // Tests run as root, where permission bits stop no write: put a plain file where the
      // directory was, so the very check production runs has nowhere to write.
      Path moved = temp.resolve("unwritable/cache.moved");
      Files.move(cache, moved);
      Files.writeString(cache, "not a directory");
      try {
        JsonNode unready = readyz(cistern, 503);
        assertTrue(!unready.path("ready").asBoolean());
        assertNotEquals("ok", unready.path("checks").path("cacheWritable").asText(), "the failing check is named");
        assertEquals("ok", unready.path("checks").path("freeDisk").asText());
      } finally {
        Files.delete(cache);
        Files.move(moved, cache);
      }
      assertTrue(readyz(cistern, 200).path("ready").asBoolean(), "ready again once the directory is back");
    }
  }

  @Test
  void readyzFailsWhenTheDiskHasLessFreeSpaceThanConfigured() throws Exception {
    try (TestCistern cistern = TestCistern.fromYaml(temp.resolve("full"), """
        admin:
          address: 127.0.0.1
          port: 0
          minFreeDisk: 1000000TiB
        cache:
          directory: %s
        upstreams:
          - host: %s
            url: %s
        """.formatted(temp.resolve("full/cache"), UPSTREAM, upstream.url()))) {
      JsonNode report = readyz(cistern, 503);
      assertTrue(report.path("checks").path("freeDisk").asText().contains("below the minimum"), report.toString());
      assertEquals("ok", report.path("checks").path("metadata").asText());
      assertEquals("ok", report.path("checks").path("cacheWritable").asText());
    }
  }

  private static JsonNode readyz(TestCistern cistern, int expectedStatus) throws Exception {
    HttpResponse<String> response = cistern.admin("/readyz");
    assertEquals(expectedStatus, response.statusCode(), response.body());
    assertEquals("application/json", response.headers().firstValue("Content-Type").orElseThrow());
    return JSON.readTree(response.body());
  }

  private static Scrape scrape(TestCistern cistern) throws Exception {
    HttpResponse<String> response = cistern.admin("/metrics");
    assertEquals(200, response.statusCode());
    return Scrape.parse(response.body());
  }
}
