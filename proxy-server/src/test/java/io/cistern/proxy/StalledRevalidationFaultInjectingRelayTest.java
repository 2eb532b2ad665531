package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;

import io.cistern.cache.TagKey;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stalled upstream, made by hand: the relay in front of a real Distribution holds every answer
 * until the test releases it, as an upstream that accepts a request and then says nothing does.
 * A stale tag's clients are answered from the cache while the one HEAD that revalidates it is
 * held; only then is the HEAD let through, and its outcome counted. With blocking revalidation
 * those clients would wait for the upstream's {@code responseTimeout} (here 5 minutes), so the
 * tests fail rather than pass slowly.
 */
class StalledRevalidationFaultInjectingRelayTest {

  private static final Duration TTL = Duration.ofMinutes(5);
  private static final int CLIENTS = 8;

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  /** By upstream: each test stalls its own, so a held answer another test let go cannot undo its stall. */
  private static final Map<String, CountingRelay> stallingRelays = new HashMap<>();
  private static final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));
  private static TestCistern cistern;
  private static final TestImage image = TestImage.random(61, 1, 10_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    for (String repository : List.of("team/one", "team/many")) {
      upstream.push(repository, "latest", image);
    }
    StringBuilder upstreams = new StringBuilder();
    for (String host : List.of("one.test", "many.test")) {
      CountingRelay relay = CountingRelay.to(upstream.port());
      stallingRelays.put(host, relay);
      upstreams.append("  - host: ").append(host).append("\n    url: ").append(relay.url())
          .append("\n    responseTimeout: 5m\n");
    }
    cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %s
        tagTtl: 5m
        upstreams:
        """.formatted(temp.resolve("cistern/cache")) + upstreams, clock);
  }

  @AfterEach
  void releaseTheUpstreams() {
    stallingRelays.values().forEach(CountingRelay::release);
  }

  @AfterAll
  static void stop() throws Exception {
    cistern.close();
    for (CountingRelay relay : stallingRelays.values()) {
      relay.close();
    }
  }

  @Test
  void aStaleTagIsServedAtOnceWithItsCachedDigestWhileTheUpstreamHoldsItsAnswer() throws Exception {
    assertEquals(200, get("one.test", "team/one").statusCode());
    clock.advance(TTL.plusSeconds(1));
    CountingRelay stallingRelay = stall("one.test");

    HttpResponse<byte[]> stale = CompletableFuture.supplyAsync(() -> get("one.test", "team/one")).get(60, TimeUnit.SECONDS);
    assertEquals(200, stale.statusCode(), new String(stale.body(), StandardCharsets.UTF_8));
    assertArrayEquals(image.manifest().bytes(), stale.body());
    assertEquals(image.digest().toString(), stale.headers().firstValue("Docker-Content-Digest").orElseThrow());
    CompletableFuture<Void> revalidation = revalidationOf("one.test", "team/one");
    assertFalse(revalidation.isDone(), "answered while the HEAD is still held");

    stallingRelay.release();
    revalidation.get(60, TimeUnit.SECONDS);
    assertEquals(1, revalidations("one.test", "unchanged"));
    assertEquals(1, stallingRelay.count("HEAD", "/v2/team/one/manifests/latest"::equals));
  }

  @Test
  void everyClientOfAStaleTagIsAnsweredWhileTheOneHeadIsHeld() throws Exception {
    assertEquals(200, get("many.test", "team/many").statusCode());
    clock.advance(TTL.plusSeconds(1));
    CountingRelay stallingRelay = stall("many.test");

    CyclicBarrier together = new CyclicBarrier(CLIENTS);
    List<CompletableFuture<HttpResponse<byte[]>>> clients = new ArrayList<>();
    // A thread per client: they wait for each other at the barrier, which a smaller pool could not hold.
    ExecutorService threads = Executors.newFixedThreadPool(CLIENTS);
    try {
      for (int i = 0; i < CLIENTS; i++) {
        clients.add(CompletableFuture.supplyAsync(() -> {
          try {
            together.await(60, TimeUnit.SECONDS);
          } catch (Exception e) {
            throw new IllegalStateException(e);
          }
          return get("many.test", "team/many");
        }, threads));
      }
      for (CompletableFuture<HttpResponse<byte[]>> client : clients) {
        HttpResponse<byte[]> response = client.get(60, TimeUnit.SECONDS);
        assertEquals(200, response.statusCode());
        assertArrayEquals(image.manifest().bytes(), response.body());
      }
    } finally {
      threads.shutdownNow();
    }
    CompletableFuture<Void> revalidation = revalidationOf("many.test", "team/many");
    assertFalse(revalidation.isDone(), "every client was answered while the HEAD was held");

    stallingRelay.release();
    revalidation.get(60, TimeUnit.SECONDS);
    assertEquals(1, stallingRelay.count("HEAD", "/v2/team/many/manifests/latest"::equals), "one HEAD for all of them");
    assertEquals(1, revalidations("many.test", "unchanged"));
  }

  /**
   * Holds every answer from now on, on new connections: those Cistern keeps open are cut, as a
   * connection already waiting for its next answer would let that one through.
   */
  private static CountingRelay stall(String host) {
    CountingRelay relay = stallingRelays.get(host);
    relay.holdAfter(0);
    relay.cutConnections();
    return relay;
  }

  private static CompletableFuture<Void> revalidationOf(String host, String repository) {
    return cistern.cistern().manifests().tagRevalidation(new TagKey(host, RepositoryName.of(repository), new Tag("latest")));
  }

  private static double revalidations(String host, String outcome) throws Exception {
    return Scrape.parse(cistern.admin("/metrics").body())
        .value("cistern_tag_revalidations_total", "upstream", host, "mode", "background", "outcome", outcome);
  }

  private static HttpResponse<byte[]> get(String host, String repository) {
    try {
      return cistern.get("/v2/" + host + "/" + repository + "/manifests/latest", "Accept", MediaTypes.OCI_MANIFEST);
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }
}
