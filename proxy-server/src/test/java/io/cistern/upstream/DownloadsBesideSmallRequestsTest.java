package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cistern.oci.MediaTypes;
import io.cistern.testing.BlobStream;
import io.cistern.testing.BoundedClients;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * An upstream's blob downloads and its small requests have caps of their own: with every download
 * permit held by a body that has not ended, a tag is still revalidated, its new manifest fetched
 * and a blob HEADed; and a download waiting to retry holds no permit. A real Distribution behind a {@link CountingRelay} that holds every answer
 * after {@link #HOLD} bytes until the test releases it, so the downloads are mid-body for as long
 * as the test needs, with no clock deciding anything.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class DownloadsBesideSmallRequestsTest {

  private static final int HOLD = 256 * 1024;
  private static final Duration TTL = Duration.ofMinutes(5);
  private static final String LAYERS = "team/layers";
  /** Far longer than a small request takes, and shorter than the test's timeout. */
  private static final Duration ANSWERED = Duration.ofSeconds(30);

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final List<TestImage.Blob> layers = List.of(
      TestImage.Blob.random(1, 4 << 20), TestImage.Blob.random(2, 4 << 20), TestImage.Blob.random(3, 4 << 20));
  private static final TestImage.Blob headed = TestImage.Blob.random(4, 1 << 20);
  private static final TestImage first = TestImage.random(5, 1, 10_000, "amd64");
  private static final TestImage second = TestImage.random(6, 1, 10_000, "amd64");

  @TempDir
  Path temp;

  @RegisterExtension
  final BoundedClients clients = new BoundedClients();
  private final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));
  private CountingRelay relay;
  private TestCistern cistern;

  @BeforeAll
  static void seed() throws Exception {
    for (TestImage.Blob layer : layers) {
      upstream.pushBlob(LAYERS, layer.bytes());
    }
    upstream.pushBlob(LAYERS, headed.bytes());
  }

  @AfterEach
  void stop() throws IOException {
    if (relay != null) {
      // Released first: a download still held at the relay would keep Cistern's stop waiting.
      relay.release();
    }
    if (cistern != null) {
      cistern.close();
    }
    if (relay != null) {
      relay.close();
    }
  }

  @ParameterizedTest(name = "maxConcurrentRequests {0}, maxConcurrentBlobDownloads {1}")
  @CsvSource({
      "1, 3, team/both-keys, 3",
      // A config written before downloads had a key of their own: its cap still bounds them.
      "2,  , team/old-key,   2"})
  void aTagIsRevalidatedAndItsNewManifestFetchedWhileEveryDownloadPermitIsHeldMidBody(
      int maxConcurrentRequests, Integer maxConcurrentBlobDownloads, String repository, int downloadPermits) throws Exception {
    upstream.push(repository, "latest", first);
    start("    maxConcurrentRequests: " + maxConcurrentRequests + "\n"
        + (maxConcurrentBlobDownloads == null ? "" : "    maxConcurrentBlobDownloads: " + maxConcurrentBlobDownloads + "\n"));
    assertManifest(first, repository);
    upstream.push(repository, "latest", second);
    clock.advance(TTL.plusSeconds(1));

    relay.holdAfter(HOLD);
    List<BlobStream> downloads = new ArrayList<>();
    for (CompletableFuture<BlobStream> opened : open(layers.subList(0, downloadPermits))) {
      // Bytes arrived and the upstream's answer is held: this download holds its permit.
      BlobStream download = opened.get(60, TimeUnit.SECONDS);
      assertEquals(200, download.status());
      downloads.add(download);
    }

    assertManifest(second, repository);
    HttpResponse<byte[]> head = send("HEAD", blobPath(headed));
    assertEquals(200, head.statusCode(), "a blob HEAD is a small request");
    assertEquals(String.valueOf(headed.bytes().length), head.headers().firstValue("Content-Length").orElseThrow());
    assertEquals(downloadPermits, metric("cistern_downloads_in_flight"), "every download was still held");
    String tag = "/v2/" + repository + "/manifests/latest";
    assertEquals(1, relay.count("HEAD", tag::equals), "the expired tag was revalidated");
    assertEquals(2, relay.count("GET", tag::equals), "and its new manifest fetched");

    relay.release();
    for (int i = 0; i < downloads.size(); i++) {
      assertArrayEquals(layers.get(i).bytes(), downloads.get(i).finish());
    }
  }

  @Test
  void aDownloadWaitingToRetryHoldsNoDownloadPermit() throws Exception {
    relay = CountingRelay.to(upstream.port());
    // The cut download's first retry waits five minutes or more: far longer than this test runs.
    cistern = TestCistern.fromYaml(temp, config("    maxConcurrentBlobDownloads: 1\n    retryWindow: 10m\n"),
        settings -> settings.withRetryBackoff(Duration.ofMinutes(10)));
    relay.holdAfter(HOLD);
    assertEquals(200, open(layers.subList(0, 1)).get(0).get(60, TimeUnit.SECONDS).status());
    relay.cutConnections();
    relay.release();

    // The only permit frees when the cut body fails, not when its retry has run.
    HttpResponse<byte[]> other = clients.get(blobUri(layers.get(1)));
    assertEquals(200, other.statusCode());
    assertArrayEquals(layers.get(1).bytes(), other.body());
    assertEquals(1, relay.count("GET", blobPath(layers.get(0))::equals), "the cut download is still waiting to retry");
  }

  private void start(String upstreamKeys) throws Exception {
    relay = CountingRelay.to(upstream.port());
    cistern = TestCistern.fromYaml(temp, config(upstreamKeys), clock);
  }

  private String config(String upstreamKeys) {
    return """
        cache:
          directory: %s
        tagTtl: 5m
        tagRevalidation: blocking    # the client of the expired tag gets the new manifest, not the cached one
        shutdown:
          grace: 0s
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(temp.resolve("cache"), relay.url()) + upstreamKeys;
  }

  private List<CompletableFuture<BlobStream>> open(List<TestImage.Blob> blobs) {
    List<CompletableFuture<BlobStream>> streams = new ArrayList<>();
    for (TestImage.Blob blob : blobs) {
      streams.add(clients.openLater(blobUri(blob)));
    }
    return streams;
  }

  private void assertManifest(TestImage image, String repository) throws Exception {
    HttpResponse<byte[]> response = send("GET", "/v2/" + repository + "/manifests/latest", "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), new String(response.body(), StandardCharsets.UTF_8));
    assertArrayEquals(image.manifest().bytes(), response.body());
  }

  /** Sends a request that must be answered within {@link #ANSWERED}, however long the downloads are held. */
  private HttpResponse<byte[]> send(String method, String path, String... headers) throws Exception {
    try {
      return clients.sendLater(method, cistern.url(path), headers).get(ANSWERED.toSeconds(), TimeUnit.SECONDS);
    } catch (TimeoutException e) {
      throw new AssertionError(method + " " + path + " was not answered within " + ANSWERED + " while downloads were held", e);
    }
  }

  private double metric(String name, String... labels) throws Exception {
    return Scrape.parse(cistern.admin("/metrics").body()).value(name, labels);
  }

  private URI blobUri(TestImage.Blob blob) {
    return cistern.url(blobPath(blob));
  }

  private static String blobPath(TestImage.Blob blob) {
    return "/v2/" + LAYERS + "/blobs/" + blob.digest();
  }
}
