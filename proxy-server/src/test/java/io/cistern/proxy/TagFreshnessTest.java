package io.cistern.proxy;

import static io.cistern.testing.PullAssertions.assertServesManifest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cistern.oci.MediaTypes;
import io.cistern.testing.ClockedCisternOnRelay;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tag freshness against a real Distribution behind a counting relay, with a clock the test moves,
 * and blocking revalidation: a tag is served from the cache for its TTL with no upstream contact,
 * then revalidated by one HEAD however many clients ask (who all wait for it), and served stale
 * when the upstream is gone. Each test uses its own repository, so counts at the relay belong to
 * it alone. Background revalidation, the default, is {@link StaleWhileRevalidateTest}'s.
 */
class TagFreshnessTest {

  private static final Duration TTL = Duration.ofMinutes(5);

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));

  @RegisterExtension
  static final ClockedCisternOnRelay site = new ClockedCisternOnRelay(upstream, clock);

  @TempDir
  static Path temp;

  private static final TestImage first = TestImage.random(41, 2, 20_000, "amd64");
  private static final TestImage second = TestImage.random(42, 2, 20_000, "amd64");
  private static CountingRelay relay;
  private static TestCistern cistern;

  @BeforeAll
  static void start() throws Exception {
    for (String repository : List.of("team/fresh", "team/stale", "team/moving", "team/outage", "team/offline")) {
      upstream.push(repository, "latest", first);
    }
    cistern = site.start(url -> """
        tagTtl: 5m
        tagRevalidation: blocking
        upstreams:
          - host: upstream.test
            url: %1$s
          - host: offline.test
            url: %1$s
            offline: true
        """.formatted(url));
    relay = site.relay();
  }

  @Test
  void withinTheTtlATagIsServedWithoutAskingTheUpstream() throws Exception {
    assertServes(first, "team/fresh");
    long asked = upstreamRequests("team/fresh");
    clock.advance(TTL.minusSeconds(1));
    for (int i = 0; i < 5; i++) {
      assertServes(first, "team/fresh");
    }
    assertEquals(asked, upstreamRequests("team/fresh"), "no upstream request within the TTL");
  }

  @Test
  void afterTheTtlOneHeadRevalidatesTheTagForEveryClient() throws Exception {
    assertServes(first, "team/stale");
    long gets = relay.count("GET", "/v2/team/stale/manifests/latest"::equals);
    clock.advance(TTL.plusSeconds(1));
    List<CompletableFuture<HttpResponse<byte[]>>> clients = new ArrayList<>();
    for (int i = 0; i < 8; i++) {
      clients.add(CompletableFuture.supplyAsync(() -> get("team/stale")));
    }
    for (CompletableFuture<HttpResponse<byte[]>> client : clients) {
      HttpResponse<byte[]> response = client.get(60, TimeUnit.SECONDS);
      assertEquals(200, response.statusCode());
      assertArrayEquals(first.manifest().bytes(), response.body());
    }
    assertEquals(1, relay.count("HEAD", "/v2/team/stale/manifests/latest"::equals), "exactly one HEAD");
    assertEquals(gets, relay.count("GET", "/v2/team/stale/manifests/latest"::equals), "an unchanged digest fetches nothing");
    assertServes(first, "team/stale");
    assertEquals(1, relay.count("HEAD", "/v2/team/stale/manifests/latest"::equals), "fresh again for another TTL");
  }

  @Test
  void aTagThatMovedUpstreamIsFetchedAnewAfterTheTtl() throws Exception {
    assertServes(first, "team/moving");
    upstream.push("team/moving", "latest", second);
    assertServes(first, "team/moving");
    clock.advance(TTL.plusSeconds(1));
    assertServes(second, "team/moving");
    assertEquals(1, relay.count("HEAD", "/v2/team/moving/manifests/latest"::equals));
  }

  @Test
  void withTheUpstreamStoppedAStaleTagStillPulls() throws Exception {
    Skopeo skopeo = new Skopeo(temp.resolve("skopeo"));
    String reference = "docker://" + cistern.hostPort() + "/team/outage:latest";
    skopeo.copy("--src-tls-verify=false", reference, "dir:" + temp.resolve("warm"));
    clock.advance(TTL.plusSeconds(1));
    upstream.stop();
    try {
      Path out = temp.resolve("during-outage");
      skopeo.copy("--src-tls-verify=false", reference, "dir:" + out);
      assertArrayEquals(first.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
      for (TestImage.Blob blob : first.blobs()) {
        assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())));
      }
    } finally {
      upstream.restart();
    }
  }

  @Test
  void anOfflineUpstreamIsNeverContactedAndServesWhatIsCached() throws Exception {
    assertServes(first, "team/offline");
    TestImage.Blob layer = first.blobs().get(1);
    assertEquals(200, cistern.get("/v2/team/offline/blobs/" + layer.digest()).statusCode(), "cached through the online upstream");
    long before = relay.requests().size();
    HttpResponse<byte[]> byDigest = cistern.get("/v2/offline.test/team/offline/manifests/" + first.digest(), "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, byDigest.statusCode(), "content cached by digest is served");
    assertArrayEquals(first.manifest().bytes(), byDigest.body());
    HttpResponse<byte[]> blob = cistern.get("/v2/offline.test/team/offline/blobs/" + layer.digest());
    assertArrayEquals(layer.bytes(), blob.body());
    HttpResponse<byte[]> uncached = cistern.get("/v2/offline.test/team/offline/manifests/latest", "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(404, uncached.statusCode(), "a tag it never resolved is unknown");
    assertEquals(before, relay.requests().size(), "and nothing reached the upstream");
  }

  private static long upstreamRequests(String repository) {
    return relay.requests().stream().filter(request -> request.path().startsWith("/v2/" + repository + "/")).count();
  }

  private static void assertServes(TestImage image, String repository) throws Exception {
    assertServesManifest(cistern, "/v2/" + repository + "/manifests/latest", image);
  }

  private static HttpResponse<byte[]> get(String repository) {
    try {
      return cistern.get("/v2/" + repository + "/manifests/latest", "Accept", MediaTypes.OCI_MANIFEST);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
