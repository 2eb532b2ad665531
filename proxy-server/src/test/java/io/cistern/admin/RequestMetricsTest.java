package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.cistern.cache.FillSource;
import io.cistern.http.ServedRequest;
import io.cistern.upstream.RetryCause;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;

/** Label values stay few whatever clients send, and failures without an answer are counted too. */
class RequestMetricsTest {

  private final MeterRegistry registry = new SimpleMeterRegistry();

  @Test
  void methodsOtherThanGetAndHeadShareOneLabelSoClientsCannotGrowTheSeries() {
    RequestMetrics metrics = new RequestMetrics(registry);
    metrics.served(request("PROPFIND", "unknown", 405, ServedRequest.Cache.NONE, 0));
    metrics.served(request("X-ANYTHING", "unknown", 405, ServedRequest.Cache.NONE, 0));
    assertEquals(2, registry.get("cistern.requests").tag("method", "other").timer().count());
    assertNull(registry.find("cistern.requests").tag("method", "PROPFIND").timer());
  }

  @Test
  void hitsAndMissesCountByKindAndTheirBytesBySource() {
    RequestMetrics metrics = new RequestMetrics(registry);
    metrics.served(request("GET", "blob", 200, ServedRequest.Cache.HIT, 1000));
    metrics.served(request("GET", "blob", 200, ServedRequest.Cache.MISS, 300));
    metrics.served(request("HEAD", "manifest", 200, ServedRequest.Cache.HIT, 0));
    metrics.served(request("GET", "tags", 200, ServedRequest.Cache.NONE, 50));
    assertEquals(1, registry.get("cistern.cache.hits").tag("kind", "blob").counter().count());
    assertEquals(1, registry.get("cistern.cache.misses").tag("kind", "blob").counter().count());
    assertEquals(1, registry.get("cistern.cache.hits").tag("kind", "manifest").counter().count());
    assertEquals(1000, registry.get("cistern.served").tag("source", "cache").counter().count());
    assertEquals(300, registry.get("cistern.served").tag("source", "upstream").counter().count(), "tag lists are not counted");
  }

  @Test
  void upstreamExchangesCountByUrlAndStatusAndFailuresAsErrors() {
    UpstreamMetrics metrics = new UpstreamMetrics(registry);
    URI mirror = URI.create("https://mirror.internal");
    URI ghcr = URI.create("https://ghcr.io");
    metrics.responded("ghcr.io", ghcr, 401);
    metrics.responded("ghcr.io", ghcr, 200);
    metrics.failed("ghcr.io", mirror, new IOException("connection refused"));
    assertEquals(1, registry.get("cistern.upstream.requests").tags("upstream", "ghcr.io", "status", "401").counter().count());
    assertEquals(1, registry.get("cistern.upstream.requests")
        .tags("upstream", "ghcr.io", "url", "https://mirror.internal", "status", "error").counter().count());
    assertEquals(0, registry.find("cistern.upstream.requests")
        .tags("url", "https://ghcr.io", "status", "error").counters().size());
  }

  @Test
  void everyUpstreamEventOfOneSeriesAddsToThatSeriesCounter() {
    UpstreamMetrics metrics = new UpstreamMetrics(registry);
    URI hub = URI.create("https://registry-1.docker.io");
    for (int i = 0; i < 3; i++) {
      metrics.responded("docker.io", hub, 200);
      metrics.failed("docker.io", hub, new IOException("connection reset"));
      metrics.retrying("docker.io", RetryCause.DROPPED, Duration.ofSeconds(1));
      metrics.rangeRelayed("docker.io");
    }
    metrics.responded("docker.io", hub, 404);
    metrics.retrying("docker.io", RetryCause.THROTTLED, Duration.ofSeconds(1));

    assertEquals(3, registry.get("cistern.upstream.requests")
        .tags("upstream", "docker.io", "url", hub.toString(), "status", "200").counter().count());
    assertEquals(1, registry.get("cistern.upstream.requests").tags("status", "404").counter().count());
    assertEquals(3, registry.get("cistern.upstream.requests").tags("status", "error").counter().count());
    assertEquals(3, registry.get("cistern.upstream.retries").tags("upstream", "docker.io", "cause", "dropped").counter().count());
    assertEquals(1, registry.get("cistern.upstream.retries").tags("cause", "throttled").counter().count());
    assertEquals(3, registry.get("cistern.upstream.range.relays").tags("upstream", "docker.io").counter().count());
  }

  @Test
  void aMissCountsItsBytesByWhereTheFillGotThem() {
    RequestMetrics metrics = new RequestMetrics(registry);
    metrics.served(filled(FillSource.BUCKET, 700));
    metrics.served(filled(FillSource.MEMBER, 40));
    metrics.served(filled(FillSource.UPSTREAM, 5));
    metrics.served(filled(null, 1));
    assertEquals(700, registry.get("cistern.served").tag("source", "bucket").counter().count());
    assertEquals(40, registry.get("cistern.served").tag("source", "member").counter().count());
    assertEquals(6, registry.get("cistern.served").tag("source", "upstream").counter().count(),
        "a miss that names no origin (a manifest) is the upstream's");
    assertEquals(746, metrics.traffic().bytesFromUpstream(), "stats count every byte served while it was filled");
  }

  private static ServedRequest filled(FillSource source, long bytes) {
    return new ServedRequest(Instant.EPOCH, "127.0.0.1", null, "GET", "/v2/x", "blob", 200, bytes,
        Duration.ofMillis(3), ServedRequest.Cache.MISS, "docker.io", true, source);
  }

  private static ServedRequest request(String method, String route, int status, ServedRequest.Cache cache, long bytes) {
    return new ServedRequest(Instant.EPOCH, "127.0.0.1", null, method, "/v2/x", route, status, bytes,
        Duration.ofMillis(3), cache, "docker.io", true, null);
  }
}
