package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.MediaTypes;
import io.cistern.testing.BlobStream;
import io.cistern.testing.BoundedClients;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RawHttpConnection;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * An upstream that goes away while blobs download from it (a restart, or the link to it cut) and
 * comes back on the same port: a real Distribution behind a {@link CountingRelay} that goes down
 * (every connection cut, new ones refused) and is restored. A download retries with backoff
 * while the upstream is gone and resumes by {@code Range} from what it has; every client, waiting
 * for its headers or following the body, ends with the right bytes, and the registry port's idle
 * timeout does not cut them meanwhile. When the retry window runs out, clients get an error or a
 * cut connection, never a short body that looks whole.
 *
 * <p>No clock decides anything: a test goes on once the download is seen retrying
 * ({@code cistern_upstream_retries_total}), or once the idle timeout has closed a bystander
 * connection; the first retry wait is 10 ms, so that takes moments.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class UpstreamOutageTest {

  private static final int CLIENTS = 4;
  private static final int HOLD = 256 * 1024;
  private static final String REPOSITORY = "team/outage";
  private static final Duration BACKOFF = Duration.ofMillis(10);

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final TestImage.Blob large = TestImage.Blob.random(1, 4 << 20);
  private static final TestImage.Blob other = TestImage.Blob.random(2, 2 << 20);
  private static final TestImage image = TestImage.random(3, 1, 10_000, "amd64");

  @TempDir
  Path temp;

  @RegisterExtension
  final BoundedClients clients = new BoundedClients();
  private CountingRelay relay;
  private TestCistern cistern;

  @BeforeAll
  static void seed() throws Exception {
    upstream.pushBlob(REPOSITORY, large.bytes());
    upstream.pushBlob(REPOSITORY, other.bytes());
    upstream.push(REPOSITORY, "v1", image);
  }

  @AfterEach
  void stop() throws IOException {
    if (relay != null) {
      relay.release();
    }
    if (cistern != null) {
      cistern.close();
    }
    if (relay != null) {
      relay.close();
    }
  }

  @Test
  void clientsOfABlobWhoseUpstreamLinkIsCutGetItWholeFromOneResumedDownload() throws Exception {
    start("", "");
    List<CompletableFuture<byte[]>> bodies = followMidBody(large);

    relay.goDown();
    relay.release();
    awaitMetric(1, "cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "unreachable");
    relay.restore();

    for (CompletableFuture<byte[]> body : bodies) {
      assertArrayEquals(large.bytes(), body.get(60, TimeUnit.SECONDS));
    }
    List<CountingRelay.Request> gets = blobGets(large);
    assertEquals(1, gets.stream().filter(get -> !get.hasHeader("Range")).count(), "one full GET: " + gets);
    assertTrue(gets.stream().anyMatch(get -> get.hasHeader("Range")), "and the rest by Range: " + gets);
    assertPublished(large);
    assertTrue(metric("cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "dropped") >= 1,
        "the cut connection was counted as dropped");
  }

  @Test
  void anOutageLongerThanTheIdleTimeoutCutsNoClientWaitingOnIt() throws Exception {
    start("""
        server:
          address: 127.0.0.1
          port: 0
          idleTimeout: 1s
        """, "");
    List<CompletableFuture<byte[]>> following = followMidBody(large);
    relay.goDown();
    relay.release();
    awaitMetric(1, "cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "unreachable");
    // A client that comes while the upstream is gone waits for its headers.
    CompletableFuture<HttpResponse<byte[]>> waiting = clients.sendLater("GET", blobUri(other));
    awaitMetric(2, "cistern_downloads_in_flight");

    // Every client above has been silent since before this connection opened; once the idle
    // timeout has closed it, they have all waited longer than that timeout.
    try (RawHttpConnection bystander = RawHttpConnection.open(cistern.port(), 0)) {
      assertTrue(bystander.awaitClose(Duration.ofSeconds(60)), "an idle connection is still let go");
    }
    relay.restore();

    for (CompletableFuture<byte[]> body : following) {
      assertArrayEquals(large.bytes(), body.get(60, TimeUnit.SECONDS));
    }
    HttpResponse<byte[]> answered = waiting.get(60, TimeUnit.SECONDS);
    assertEquals(200, answered.statusCode());
    assertArrayEquals(other.bytes(), answered.body());
    assertPublished(large);
    assertPublished(other);
  }

  @Test
  void whenTheRetryWindowRunsOutWaitingClientsGetAnErrorAndFollowingOnesACutConnection() throws Exception {
    start("", "    retryWindow: 300ms\n");
    relay.holdAfter(HOLD);
    try (RawHttpConnection follower = RawHttpConnection.open(cistern.port(), 0)) {
      follower.send("GET", blobPath(large));
      RawHttpConnection.Head head = follower.readHead();
      assertEquals(200, head.status());
      assertEquals(large.bytes().length, head.contentLength());
      byte[] first = follower.readSome(1024);

      relay.goDown();
      relay.release();
      HttpResponse<byte[]> refused = clients.get(blobUri(other));
      byte[] rest = follower.readUpTo(large.bytes().length - first.length);

      assertEquals(502, refused.statusCode());
      assertTrue(new String(refused.body(), StandardCharsets.UTF_8).contains("unreachable"),
          new String(refused.body(), StandardCharsets.UTF_8));
      assertTrue(first.length + rest.length < large.bytes().length,
          "the connection closed after " + (first.length + rest.length) + " of " + large.bytes().length + " bytes");
    }
    assertTrue(metric("cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "unreachable") >= 1,
        "both downloads retried before giving up");
    assertNothingCached(large);
    assertNothingCached(other);
  }

  @Test
  void aManifestFetchWhoseUpstreamRefusesIsRetriedAndAnsweredOnceItIsBack() throws Exception {
    start("", "    maxRetries: 50\n");
    relay.goDown();
    CompletableFuture<HttpResponse<byte[]>> manifest = clients.sendLater("GET",
        cistern.url("/v2/" + REPOSITORY + "/manifests/v1"), "Accept", MediaTypes.OCI_MANIFEST);
    awaitMetric(1, "cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "unreachable");
    relay.restore();

    HttpResponse<byte[]> answered = manifest.get(60, TimeUnit.SECONDS);
    assertEquals(200, answered.statusCode());
    assertArrayEquals(image.manifest().bytes(), answered.body());
  }

  @Test
  void aRefusedManifestOrHeadIsRetriedMaxRetriesTimesThenAnswered502() throws Exception {
    start("", "    maxRetries: 3\n");
    relay.goDown();

    HttpResponse<byte[]> manifest = clients.get(cistern.url("/v2/" + REPOSITORY + "/manifests/v1"),
        "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(502, manifest.statusCode());
    assertEquals(3, metric("cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "unreachable"));

    HttpResponse<byte[]> head = clients.send("HEAD", blobUri(other));
    assertEquals(502, head.statusCode());
    assertEquals(6, metric("cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "unreachable"));
  }

  /**
   * Starts a relay to the upstream and a Cistern behind it, with a 10 ms first retry wait.
   *
   * @param top YAML added at the top level (a {@code server} section)
   * @param upstreamKeys YAML added to the upstream's entry, indented four spaces
   */
  private void start(String top, String upstreamKeys) throws Exception {
    relay = CountingRelay.to(upstream.port());
    cistern = TestCistern.fromYaml(temp, top + """
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(temp.resolve("cache"), relay.url()) + upstreamKeys, settings -> settings.withRetryBackoff(BACKOFF));
  }

  /**
   * {@link #CLIENTS} clients of {@code blob}, each with its first bytes while the relay holds the
   * download, so they all follow its body; they read on in the background.
   */
  private List<CompletableFuture<byte[]>> followMidBody(TestImage.Blob blob) throws Exception {
    relay.holdAfter(HOLD);
    List<CompletableFuture<BlobStream>> streams = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      streams.add(clients.openLater(blobUri(blob)));
    }
    List<CompletableFuture<byte[]>> bodies = new ArrayList<>();
    for (CompletableFuture<BlobStream> stream : streams) {
      BlobStream opened = stream.get(60, TimeUnit.SECONDS);
      assertEquals(200, opened.status());
      bodies.add(clients.finishLater(opened));
    }
    return bodies;
  }

  /** Scrapes {@code /metrics} until the sample reaches {@code atLeast}: each scrape a real round trip, no sleeping. */
  private void awaitMetric(double atLeast, String name, String... labels) throws Exception {
    Instant deadline = Instant.now().plus(Duration.ofSeconds(60));
    double value = 0;
    while (Instant.now().isBefore(deadline)) {
      value = metric(name, labels);
      if (value >= atLeast) {
        return;
      }
    }
    throw new AssertionError(name + " " + List.of(labels) + " stayed at " + value + ", below " + atLeast);
  }

  private double metric(String name, String... labels) throws Exception {
    return Scrape.parse(cistern.admin("/metrics").body()).value(name, labels);
  }

  private List<CountingRelay.Request> blobGets(TestImage.Blob blob) {
    String path = blobPath(blob);
    return relay.requests().stream().filter(request -> request.method().equals("GET") && request.path().equals(path)).toList();
  }

  private void assertPublished(TestImage.Blob blob) throws Exception {
    cistern.awaitDownloadsStored();
    Path stored = cistern.cistern().cache().blobs().pathOf(blob.digest());
    assertArrayEquals(blob.bytes(), Files.readAllBytes(stored));
    assertEquals(List.of(), partials());
  }

  private void assertNothingCached(TestImage.Blob blob) throws IOException {
    assertFalse(Files.exists(cistern.cistern().cache().blobs().pathOf(blob.digest())), "nothing at the blob's path");
    assertEquals(List.of(), partials(), "no temp file left behind");
  }

  private List<Path> partials() throws IOException {
    try (Stream<Path> files = Files.walk(cistern.cistern().cache().blobs().directory())) {
      return files.filter(file -> file.getFileName().toString().endsWith(".partial")).toList();
    }
  }

  private URI blobUri(TestImage.Blob blob) {
    return cistern.url(blobPath(blob));
  }

  private static String blobPath(TestImage.Blob blob) {
    return "/v2/" + REPOSITORY + "/blobs/" + blob.digest();
  }
}
