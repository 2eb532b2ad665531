package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.FaultInjectingUpstream;
import io.cistern.testing.MutableClock;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.io.TempDir;

/**
 * Rate limits and upstream errors, from a fault-injecting fake upstream (a real registry cannot be
 * made to answer 429 on demand): retried within bounds, passed through as OCI errors with the
 * upstream's status when content is not cached, and never seen by clients when it is.
 */
class RateLimitFaultInjectingUpstreamTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MAX_RETRIES = 2;

  @TempDir
  static Path temp;

  private static FaultInjectingUpstream upstream;
  private static final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));
  private static TestCistern cistern;
  private static final TestImage image = TestImage.random(51, 1, 10_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    upstream = FaultInjectingUpstream.start();
    for (String repository : new String[] {"team/retried", "team/exhausted", "team/patient", "team/cached", "team/failing"}) {
      upstream.serve(repository, "1.0", image);
    }
    cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %s
        tagTtl: 5m
        upstreams:
          - host: limited.test
            url: %s
            maxRetries: %d
            tagRevalidation: blocking   # a stale tag's client waits for the failing upstream's answer
        """.formatted(temp.resolve("cistern/cache"), upstream.url(), MAX_RETRIES), clock);
  }

  @AfterAll
  static void stop() {
    cistern.close();
    upstream.close();
  }

  @AfterEach
  void heal() {
    upstream.heal();
  }

  @Test
  void a429WithRetryAfterIsRetriedAndTheClientNeverSeesIt() throws Exception {
    upstream.failNext(2, 429, "0");
    HttpResponse<byte[]> response = manifest("team/retried");
    assertEquals(200, response.statusCode(), body(response));
    assertArrayEquals(image.manifest().bytes(), response.body());
    assertEquals(3, upstream.count("GET /v2/team/retried/manifests/1.0"), "two 429s, then the answer");
  }

  @Test
  void when429sOutlastTheRetriesTheClientGetsThe429WithItsRetryAfter() throws Exception {
    upstream.failAlways(429, "0");
    HttpResponse<byte[]> response = manifest("team/exhausted");
    assertError(response, 429, "TOOMANYREQUESTS");
    assertTrue(response.headers().firstValue("Retry-After").isPresent(), "Retry-After is passed on");
    assertEquals(1 + MAX_RETRIES, upstream.count("GET /v2/team/exhausted/manifests/1.0"), "bounded retries");
  }

  @Test
  void aRetryAfterLongerThanCisternWaitsGoesStraightBackToTheClient() throws Exception {
    upstream.failAlways(429, "120");
    HttpResponse<byte[]> response = manifest("team/patient");
    assertError(response, 429, "TOOMANYREQUESTS");
    assertEquals("120", response.headers().firstValue("Retry-After").orElseThrow());
    assertEquals(1, upstream.count("GET /v2/team/patient/manifests/1.0"), "no retry the client could do better itself");
  }

  @Test
  void whenContentIsCachedUpstreamErrorsNeverReachTheClient() throws Exception {
    assertEquals(200, manifest("team/cached").statusCode());
    TestImage.Blob layer = image.blobs().get(1);
    assertEquals(200, cistern.get("/v2/team/cached/blobs/" + layer.digest()).statusCode());
    for (int status : new int[] {429, 500, 503, 401, 403}) {
      clock.advance(Duration.ofMinutes(6));
      upstream.failAlways(status, "120");
      long asked = upstream.count("HEAD /v2/team/cached/manifests/1.0");
      HttpResponse<byte[]> stale = manifest("team/cached");
      assertEquals(200, stale.statusCode(), status + ": " + body(stale));
      assertArrayEquals(image.manifest().bytes(), stale.body());
      assertEquals(asked + 1, upstream.count("HEAD /v2/team/cached/manifests/1.0"), status + ": the upstream was asked");
      assertEquals(200, manifest("team/cached").statusCode());
      assertEquals(asked + 1, upstream.count("HEAD /v2/team/cached/manifests/1.0"), status + ": and not again in the grace period");
      HttpResponse<byte[]> blob = cistern.get("/v2/team/cached/blobs/" + layer.digest());
      assertArrayEquals(layer.bytes(), blob.body(), status + ": the blob");
      HttpResponse<byte[]> tags = cistern.get("/v2/team/cached/tags/list");
      assertEquals(200, tags.statusCode(), status + ": " + body(tags));
      assertEquals("1.0", JSON.readTree(tags.body()).path("tags").path(0).asText());
    }
  }

  @ParameterizedTest(name = "upstream {0} -> client {1} {2}")
  @CsvSource({
      "401, 401, UNAUTHORIZED",
      "403, 403, DENIED",
      "404, 404, MANIFEST_UNKNOWN",
      "500, 502, UNAVAILABLE",
      "502, 502, UNAVAILABLE",
      "503, 503, UNAVAILABLE",
      "418, 418, UNKNOWN"})
  void uncachedContentGetsTheUpstreamsStatusAsAnOciErrorNeverA500(int upstreamStatus, int clientStatus, String code)
      throws Exception {
    upstream.failAlways(upstreamStatus, "120");
    assertError(manifest("team/failing"), clientStatus, code);
  }

  private static HttpResponse<byte[]> manifest(String repository) throws Exception {
    return cistern.get("/v2/" + repository + "/manifests/1.0", "Accept", MediaTypes.OCI_MANIFEST);
  }

  private static void assertError(HttpResponse<byte[]> response, int status, String code) throws Exception {
    assertEquals(status, response.statusCode(), body(response));
    assertEquals(code, JSON.readTree(response.body()).path("errors").path(0).path("code").asText(), body(response));
  }

  private static String body(HttpResponse<byte[]> response) {
    return new String(response.body(), StandardCharsets.UTF_8);
  }
}
