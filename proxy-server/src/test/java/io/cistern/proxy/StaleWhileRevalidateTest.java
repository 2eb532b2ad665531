package io.cistern.proxy;

import static io.cistern.testing.PullAssertions.assertServesManifest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.TagKey;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import io.cistern.testing.CisternCli;
import io.cistern.testing.ClockedCisternOnRelay;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Stale-while-revalidate against a real Distribution behind a counting relay, with a clock the
 * test moves: past its TTL a tag is served from the cache at once while one HEAD revalidates it,
 * and the request after that HEAD answers sees what it said (a moved tag, a deleted one). An
 * upstream with {@code tagRevalidation: blocking}, and a tag more than {@code maxStale} past its
 * TTL, make the client wait for the upstream's word instead. Tests wait for the background HEAD
 * on its completion ({@link ManifestService#tagRevalidation}), never on time. Each test uses its
 * own repository, so counts at the relay belong to it alone. A stalled upstream is
 * {@link StalledRevalidationFaultInjectingRelayTest}'s.
 */
class StaleWhileRevalidateTest {

  private static final Duration TTL = Duration.ofMinutes(5);
  private static final Duration MAX_STALE = Duration.ofHours(1);

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));

  @RegisterExtension
  static final ClockedCisternOnRelay site = new ClockedCisternOnRelay(upstream, clock);

  @TempDir
  static Path temp;

  private static final TestImage first = TestImage.random(51, 1, 10_000, "amd64");
  private static final TestImage second = TestImage.random(52, 1, 10_000, "amd64");
  private static CountingRelay relay;
  private static TestCistern cistern;

  @BeforeAll
  static void start() throws Exception {
    for (String repository : List.of("team/moved", "team/deleted", "team/ci", "team/eager", "team/old", "team/old-outage",
        "team/warmed")) {
      upstream.push(repository, "latest", first);
    }
    // One upstream per test, all the same registry: each test's counts are its own.
    cistern = site.start(url -> {
      StringBuilder upstreams = new StringBuilder("tagTtl: 5m\nmaxStale: 1h\nupstreams:\n");
      for (String host : List.of("moved.test", "deleted.test", "old.test", "outage.test", "warmed.test")) {
        upstreams.append("  - host: ").append(host).append("\n    url: ").append(url).append("\n");
      }
      upstreams.append("  - host: ci.test\n    url: ").append(url).append("\n    tagRevalidation: blocking\n");
      upstreams.append("  - host: eager.test\n    url: ").append(url).append("\n    maxStale: 0s\n");
      return upstreams.toString();
    });
    relay = site.relay();
  }

  @Test
  void aTagThatMovedIsServedStaleAtOnceAndTheRequestAfterItsHeadGetsTheNewDigest() throws Exception {
    assertServes(first, "moved.test", "team/moved");
    upstream.push("team/moved", "latest", second);
    clock.advance(TTL.plusSeconds(1));

    assertServes(first, "moved.test", "team/moved");
    awaitRevalidation("moved.test", "team/moved");
    assertEquals(1, revalidations("moved.test", "background", "moved"));
    assertServes(second, "moved.test", "team/moved");
    assertServes(second, "moved.test", "team/moved");
    assertEquals(1, relay.count("HEAD", "/v2/team/moved/manifests/latest"::equals), "one HEAD");
    assertEquals(2, relay.count("GET", "/v2/team/moved/manifests/latest"::equals), "and one GET of the moved tag");
  }

  @Test
  void aTagDeletedUpstreamIsServedStaleOnceThenItsClientsWaitForTheUpstreamsWord() throws Exception {
    assertServes(first, "deleted.test", "team/deleted");
    // Distribution deletes a manifest by digest, and the tags that point at it with it.
    HttpResponse<String> deleted = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
            URI.create(upstream.url() + "/v2/team/deleted/manifests/" + first.digest())).DELETE().build(),
        HttpResponse.BodyHandlers.ofString());
    assertEquals(202, deleted.statusCode(), deleted.body());
    clock.advance(TTL.plusSeconds(1));

    assertServes(first, "deleted.test", "team/deleted");
    awaitRevalidation("deleted.test", "team/deleted");
    assertEquals(1, revalidations("deleted.test", "background", "gone"));
    HttpResponse<byte[]> gone = get("/v2/deleted.test/team/deleted/manifests/latest");
    assertEquals(404, gone.statusCode(), body(gone));
    assertTrue(body(gone).contains("MANIFEST_UNKNOWN"), body(gone));
    assertEquals(1, revalidations("deleted.test", "blocking", "gone"), "the next client waited for a HEAD of its own");
  }

  @Test
  void withBlockingRevalidationTheFirstRequestPastTheTtlWaitsAndGetsTheNewDigest() throws Exception {
    assertServes(first, "ci.test", "team/ci");
    upstream.push("team/ci", "latest", second);
    clock.advance(TTL.plusSeconds(1));

    assertServes(second, "ci.test", "team/ci");
    assertEquals(1, revalidations("ci.test", "blocking", "moved"));
    assertEquals(0, revalidations("ci.test", "background", "moved"));
  }

  @Test
  void anUpstreamsOwnMaxStaleOfZeroMakesEveryRevalidationBlocking() throws Exception {
    assertServes(first, "eager.test", "team/eager");
    upstream.push("team/eager", "latest", second);
    clock.advance(TTL.plusSeconds(1));

    assertServes(second, "eager.test", "team/eager");
    assertEquals(1, revalidations("eager.test", "blocking", "moved"));
  }

  @Test
  void aTagMoreThanMaxStalePastItsTtlIsRevalidatedBeforeItIsServed() throws Exception {
    assertServes(first, "old.test", "team/old");
    upstream.push("team/old", "latest", second);
    clock.advance(TTL.plus(MAX_STALE).plusSeconds(1));

    assertServes(second, "old.test", "team/old");
    assertEquals(1, revalidations("old.test", "blocking", "moved"));
  }

  @Test
  void aTagMoreThanMaxStalePastItsTtlIsStillServedWhenItsUpstreamCannotBeReached() throws Exception {
    assertServes(first, "outage.test", "team/old-outage");
    clock.advance(TTL.plus(MAX_STALE).plusSeconds(1));
    relay.goDown();
    try {
      assertServes(first, "outage.test", "team/old-outage");
    } finally {
      relay.restore();
    }
    assertEquals(1, revalidations("outage.test", "blocking", "failed"));
  }

  @Test
  void aWarmResolvesAStaleTagWithTheUpstreamFirst() throws Exception {
    assertServes(first, "warmed.test", "team/warmed");
    upstream.push("team/warmed", "latest", second);
    clock.advance(TTL.plusSeconds(1));

    CisternCli cli = CisternCli.forCache(temp.resolve("cli/cistern.yml"), site.cacheDirectory(),
        cistern.cistern().adminAddress().getPort(), "upstreams:\n  - host: warmed.test\n    url: " + relay.url() + "\n");
    CisternCli.Run warm = cli.run("warm", "warmed.test/team/warmed:latest").orFail();
    assertTrue(warm.out().contains("warmed.test/team/warmed:latest@" + second.digest()), warm.out());
    assertEquals(1, revalidations("warmed.test", "blocking", "moved"), "the warm waited for the upstream's word");
  }

  private static void awaitRevalidation(String host, String repository) throws Exception {
    TagKey key = new TagKey(host, RepositoryName.of(repository), new Tag("latest"));
    cistern.cistern().manifests().tagRevalidation(key).get(60, TimeUnit.SECONDS);
  }

  private static double revalidations(String upstream, String mode, String outcome) throws Exception {
    return Scrape.parse(cistern.admin("/metrics").body())
        .value("cistern_tag_revalidations_total", "upstream", upstream, "mode", mode, "outcome", outcome);
  }

  private static void assertServes(TestImage image, String host, String repository) throws Exception {
    assertServesManifest(cistern, "/v2/" + host + "/" + repository + "/manifests/latest", image);
  }

  private static HttpResponse<byte[]> get(String path) throws Exception {
    return cistern.get(path, "Accept", MediaTypes.OCI_MANIFEST);
  }

  private static String body(HttpResponse<byte[]> response) {
    return new String(response.body(), StandardCharsets.UTF_8);
  }
}
