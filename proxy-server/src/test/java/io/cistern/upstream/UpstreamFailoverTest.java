package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.stream.Collectors;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upstream with several urls ({@code upstreams[].urls}), all in front of one real Distribution
 * registry: a url that refuses connections is passed over for the next, the url that answered
 * takes the following requests for {@code failoverMemory}, then the first is tried again; a blob
 * cut mid-body at one url resumes at the next with a Range request. Each url is a counting relay
 * (or a closed port), so the test sees which url every request reached.
 */
class UpstreamFailoverTest {

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream registry = new RealUpstream();

  private static final List<TestImage> images = List.of(
      TestImage.random(171, 1, 10_000, "amd64"),
      TestImage.random(172, 1, 10_000, "amd64"),
      TestImage.random(173, 1, 10_000, "amd64"),
      TestImage.random(174, 1, 10_000, "amd64"));
  private static final TestImage large = TestImage.random(175, 1, 600_000, "amd64");

  @BeforeAll
  static void seed() throws Exception {
    for (int i = 0; i < images.size(); i++) {
      registry.push("team/app", Integer.toString(i), images.get(i));
    }
    registry.push("team/large", "1", large);
  }

  @Test
  void aFirstUrlThatRefusesConnectionsIsPassedOverForTheSecondAndCountedUnderItsOwnUrl() throws Exception {
    URI closed = closedPort();
    try (CountingRelay second = CountingRelay.to(registry.port());
        TestCistern cistern = start("refused", List.of(closed, second.url()), Clock.systemUTC())) {
      assertArrayEquals(images.get(0).manifest().bytes(), manifest(cistern, 0));
      TestImage.Blob layer = images.get(0).blobs().get(1);
      HttpResponse<byte[]> blob = cistern.get("/v2/team/app/blobs/" + layer.digest());
      assertEquals(200, blob.statusCode());
      assertArrayEquals(layer.bytes(), blob.body());
      assertEquals(1, second.count("GET", "/v2/team/app/manifests/0"::equals));
      assertEquals(1, second.count("GET", ("/v2/team/app/blobs/" + layer.digest())::equals));

      Scrape metrics = Scrape.parse(cistern.admin("/metrics").body());
      assertTrue(metrics.value("cistern_upstream_requests_total", "url", closed.toString(), "status", "error") >= 1,
          metrics.toString());
      assertTrue(metrics.value("cistern_upstream_requests_total", "url", second.url().toString(), "status", "200") >= 2,
          metrics.toString());
      assertEquals(1, metrics.value("cistern_upstream_url_current", "upstream", "upstream.test", "url", second.url().toString()));
      assertEquals(0, metrics.value("cistern_upstream_url_current", "upstream", "upstream.test", "url", closed.toString()));
      assertEquals(0, metrics.sum("cistern_upstream_retries_total"), "the second url was tried at once, not on a retry");

      JsonNode upstream = new ObjectMapper().readTree(cistern.admin("/api/stats").body()).path("upstreamUrls").path(0);
      assertEquals("upstream.test", upstream.path("upstream").asText());
      assertEquals(second.url().toString(), upstream.path("current").asText(), "/api/stats and the status page show it");
      assertEquals(List.of(closed.toString(), second.url().toString()),
          List.of(upstream.path("urls").path(0).asText(), upstream.path("urls").path(1).asText()));
    }
  }

  @Test
  void aFirstUrlThatDoesNotAnswerWithinResponseTimeoutIsPassedOverForTheSecond() throws Exception {
    try (CountingRelay silent = CountingRelay.to(registry.port());
        CountingRelay second = CountingRelay.to(registry.port());
        TestCistern cistern = TestCistern.fromYaml(temp.resolve("silent"), """
            cache:
              directory: %s
            upstreams:
              - host: upstream.test
                urls: [%s, %s]
                responseTimeout: 1s
            """.formatted(temp.resolve("silent/cache"), silent.url(), second.url()))) {
      silent.holdAfter(0);
      try {
        assertArrayEquals(images.get(1).manifest().bytes(), manifest(cistern, 1));
      } finally {
        silent.release();
      }
      assertEquals(1, silent.count("GET", "/v2/team/app/manifests/1"::equals), "asked first, and silent");
      assertEquals(1, second.count("GET", "/v2/team/app/manifests/1"::equals));
      assertEquals(1, current(cistern, second.url()));
    }
  }

  @Test
  void theUrlThatAnsweredTakesTheNextRequestsUntilFailoverMemoryHasPassedThenTheFirstIsTriedAgain() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (CountingRelay first = CountingRelay.to(registry.port());
        CountingRelay second = CountingRelay.to(registry.port());
        TestCistern cistern = start("memory", List.of(first.url(), second.url()), clock)) {
      first.goDown();
      assertArrayEquals(images.get(0).manifest().bytes(), manifest(cistern, 0));
      assertEquals(1, second.count("GET", "/v2/team/app/manifests/0"::equals));

      first.restore();
      assertArrayEquals(images.get(1).manifest().bytes(), manifest(cistern, 1));
      clock.advance(Duration.ofMinutes(5).minusSeconds(1));
      assertArrayEquals(images.get(2).manifest().bytes(), manifest(cistern, 2));
      assertEquals(List.of(), first.requests(), "the first url, up again, is left alone while the second is remembered");
      assertEquals(1, second.count("GET", "/v2/team/app/manifests/1"::equals));
      assertEquals(1, second.count("GET", "/v2/team/app/manifests/2"::equals));

      clock.advance(Duration.ofSeconds(1));
      assertEquals(1, current(cistern, first.url()), "after failoverMemory, requests start at the first url again");
      assertArrayEquals(images.get(3).manifest().bytes(), manifest(cistern, 3));
      assertEquals(1, first.count("GET", "/v2/team/app/manifests/3"::equals));
      assertEquals(0, second.count("GET", "/v2/team/app/manifests/3"::equals));
    }
  }

  @Test
  void aBlobCutMidBodyAtOneUrlResumesAtTheNextWithARangeRequest() throws Exception {
    try (CountingRelay first = CountingRelay.to(registry.port());
        CountingRelay second = CountingRelay.to(registry.port());
        TestCistern cistern = start("resume", List.of(first.url(), second.url()), Clock.systemUTC())) {
      TestImage.Blob layer = large.blobs().get(1);
      first.holdAfter(300_000);
      HttpResponse<InputStream> response = HttpClient.newHttpClient().send(
          HttpRequest.newBuilder(cistern.url("/v2/team/large/blobs/" + layer.digest())).build(),
          HttpResponse.BodyHandlers.ofInputStream());
      assertEquals(200, response.statusCode());
      ByteArrayOutputStream received = new ByteArrayOutputStream();
      try (InputStream body = response.body()) {
        // Bytes the first url sent have reached the client: the download is mid-body. Then that url goes away.
        received.write(body.readNBytes(100_000));
        first.goDown();
        first.release();
        body.transferTo(received);
      }
      assertArrayEquals(layer.bytes(), received.toByteArray(), "the whole blob, digest-verified by Cistern");
      List<CountingRelay.Request> resumed = second.requests().stream()
          .filter(request -> request.path().equals("/v2/team/large/blobs/" + layer.digest()))
          .collect(Collectors.toList());
      assertEquals(1, resumed.size(), second.requests().toString());
      assertTrue(resumed.get(0).hasHeader("Range"), "resumed from the bytes the first url had sent: " + resumed.get(0));
    }
  }

  @Test
  void skopeoPullsThroughCisternWhoseFirstUrlIsDead() throws Exception {
    try (TestCistern cistern = start("skopeo", List.of(closedPort(), registry.url()), Clock.systemUTC())) {
      Path out = temp.resolve("skopeo-out");
      new Skopeo(temp.resolve("skopeo")).copy("--src-tls-verify=false",
          "docker://" + cistern.hostPort() + "/team/app:2", "dir:" + out).orFail();
      TestImage image = images.get(2);
      assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
      for (TestImage.Blob blob : image.blobs()) {
        assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())));
      }
    }
  }

  private static TestCistern start(String name, List<URI> urls, Clock clock) throws Exception {
    String list = urls.stream().map(URI::toString).collect(Collectors.joining(", ", "[", "]"));
    return TestCistern.fromYaml(temp.resolve(name), """
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            urls: %s
        """.formatted(temp.resolve(name).resolve("cache"), list), clock);
  }

  private static byte[] manifest(TestCistern cistern, int tag) throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/team/app/manifests/" + tag, "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), () -> new String(response.body()));
    return response.body();
  }

  private static double current(TestCistern cistern, URI url) throws Exception {
    return Scrape.parse(cistern.admin("/metrics").body())
        .value("cistern_upstream_url_current", "upstream", "upstream.test", "url", url.toString());
  }

  /** A loopback port nothing listens on: connections to it are refused. */
  private static URI closedPort() throws Exception {
    try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return URI.create("http://127.0.0.1:" + socket.getLocalPort());
    }
  }
}
