package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cistern.oci.MediaTypes;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.FaultInjectingUpstream;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Failover on the upstream's answers, which a real registry cannot be made to give: the first url
 * is a hand-made {@link FaultInjectingUpstream} answering 503 or 500, the second a counting relay
 * in front of a real Distribution registry. A 5xx sends the request on to the second url; a 404
 * is an answer, not a failure, and goes back to the client.
 */
class FailoverFaultInjectingUpstreamTest {

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream registry = new RealUpstream();

  private static final TestImage image = TestImage.random(181, 1, 10_000, "amd64");

  @BeforeAll
  static void seed() throws Exception {
    registry.push("team/app", "1", image);
  }

  @Test
  void aFirstUrlAnswering503IsPassedOverForTheSecondAtOnce() throws Exception {
    try (FaultInjectingUpstream unavailable = FaultInjectingUpstream.start();
        CountingRelay second = CountingRelay.to(registry.port());
        TestCistern cistern = start("503", unavailable.url(), second.url())) {
      unavailable.failAlways(503, null);
      assertArrayEquals(image.manifest().bytes(), manifest(cistern, "/v2/team/app/manifests/1"));
      TestImage.Blob layer = image.blobs().get(1);
      HttpResponse<byte[]> blob = cistern.get("/v2/team/app/blobs/" + layer.digest());
      assertEquals(200, blob.statusCode());
      assertArrayEquals(layer.bytes(), blob.body());
      assertEquals(1, unavailable.count("GET /v2/team/app/manifests/1"), "one 503, then the second url, no retry there");
      assertEquals(1, second.count("GET", "/v2/team/app/manifests/1"::equals));
      assertEquals(0, unavailable.count("GET /v2/team/app/blobs/" + layer.digest()),
          "the second url, which answered, is remembered");
      assertEquals(0, Scrape.parse(cistern.admin("/metrics").body()).sum("cistern_upstream_retries_total"),
          "the second url was tried at once, not on a retry after a wait");
    }
  }

  @Test
  void aFirstUrlAnswering500IsPassedOverButA404IsTheAnswer() throws Exception {
    try (FaultInjectingUpstream failing = FaultInjectingUpstream.start();
        CountingRelay second = CountingRelay.to(registry.port());
        TestCistern cistern = start("500", failing.url(), second.url())) {
      failing.failNext(1, 500, null);
      assertArrayEquals(image.manifest().bytes(), manifest(cistern, "/v2/team/app/manifests/1"));
      assertEquals(1, second.count("GET", "/v2/team/app/manifests/1"::equals));

      // The second url is remembered now: a name it does not have is its answer, the first is not asked.
      HttpResponse<byte[]> missing = cistern.get("/v2/team/other/manifests/1", "Accept", MediaTypes.OCI_MANIFEST);
      assertEquals(404, missing.statusCode());
      assertEquals(0, failing.count("GET /v2/team/other/manifests/1"));
      assertEquals(1, second.count("GET", "/v2/team/other/manifests/1"::equals));
    }
  }

  private static TestCistern start(String name, URI first, URI second) throws Exception {
    return TestCistern.fromYaml(temp.resolve(name), """
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            urls: [%s, %s]
        """.formatted(temp.resolve(name).resolve("cache"), first, second));
  }

  private static byte[] manifest(TestCistern cistern, String path) throws Exception {
    HttpResponse<byte[]> response = cistern.get(path, "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), () -> new String(response.body()));
    return response.body();
  }
}
