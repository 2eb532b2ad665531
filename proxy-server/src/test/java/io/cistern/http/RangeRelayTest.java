package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.testing.BlobStream;
import io.cistern.testing.CisternOnRelay;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Ranges as lazy-pull readers ask them (a layer's end first): on a cold blob, a range beyond what
 * the download has written is relayed from a ranged upstream GET at once, while the blob's one
 * full download goes on (here held by the relay in front of a real Distribution, so "at once"
 * needs no clock: the answer comes while the download cannot have reached those bytes). Ranges
 * within what is written or cached ask the upstream nothing more.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RangeRelayTest {

  private static final int SIZE = 4 << 20;
  private static final int HOLD = 256 * 1024;
  private static final String REPOSITORY = "team/lazy";

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final byte[] blob = random(11, SIZE);
  private static final Digest digest = Digest.sha256Of(blob);

  @RegisterExtension
  final CisternOnRelay site = new CisternOnRelay(upstream);

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final ExecutorService clients = Executors.newCachedThreadPool();

  @BeforeAll
  static void seed() throws Exception {
    upstream.pushBlob(REPOSITORY, blob);
  }

  @AfterEach
  void stopClients() {
    clients.shutdownNow();
  }

  @Test
  void aTailRangeBeyondTheBytesWrittenIsRelayedWhileTheDownloadIsHeldAndTheDownloadStillCompletes() throws Exception {
    site.relay().holdAfter(HOLD);
    BlobStream whole = CompletableFuture.supplyAsync(() -> BlobStream.open(http, site.cistern().url(blobPath())), clients)
        .get(60, TimeUnit.SECONDS);

    HttpResponse<byte[]> tail = send("Range", "bytes=-100");
    HttpResponse<byte[]> middle = send("Range", "bytes=" + (SIZE / 2) + "-" + (SIZE / 2 + 9999));

    assertPartial(tail, SIZE - 100, SIZE - 1);
    assertPartial(middle, SIZE / 2, SIZE / 2 + 9999);
    assertEquals(digest.toString(), tail.headers().firstValue("Docker-Content-Digest").orElseThrow());
    assertEquals(1, site.cistern().cistern().blobs().downloadsInFlight(), "answered while the download is held");
    assertFalse(Files.exists(site.cistern().cistern().cache().blobs().pathOf(digest)));
    assertEquals(2, rangedGets(), "each range beyond the download was asked of the upstream as a range");

    site.relay().release();
    assertArrayEquals(blob, whole.finish(), "the whole blob, verified");
    site.cistern().awaitDownloadsStored();
    assertArrayEquals(blob, Files.readAllBytes(site.cistern().cistern().cache().blobs().pathOf(digest)), "and stored");
    assertEquals(1, fullGets(), "still one full GET for the blob");
    Scrape metrics = Scrape.parse(site.cistern().admin("/metrics").body());
    assertEquals(2, metrics.value("cistern_upstream_range_relays_total", "upstream", "upstream.test"),
        "the relays are counted apart from the download");
  }

  @Test
  void theFirstRequestForAColdBlobBeingItsTailIsRelayedAndStartsTheOneFullDownload() throws Exception {
    site.relay().holdAfter(HOLD);

    HttpResponse<byte[]> tail = send("Range", "bytes=" + (SIZE - 51) + "-");

    assertPartial(tail, SIZE - 51, SIZE - 1);
    assertEquals(1, rangedGets());
    site.relay().release();
    site.cistern().awaitDownloadsStored();
    assertEquals(1, fullGets(), "the blob's download started beside the relay");
    assertArrayEquals(blob, Files.readAllBytes(site.cistern().cistern().cache().blobs().pathOf(digest)));
    assertPartial(send("Range", "bytes=-100"), SIZE - 100, SIZE - 1);
    assertEquals(1, rangedGets(), "a range of the cached blob asked the upstream nothing");
    assertEquals(1, fullGets());
  }

  @Test
  void aRangeWithinTheBytesWrittenAndOneOfACachedBlobAskTheUpstreamNothing() throws Exception {
    site.relay().holdAfter(HOLD);
    BlobStream whole = CompletableFuture.supplyAsync(() -> BlobStream.open(http, site.cistern().url(blobPath())), clients)
        .get(60, TimeUnit.SECONDS);
    int written = whole.first().length;
    assertTrue(written > 10, "the first read brought more than ten bytes");

    assertPartial(send("Range", "bytes=10-" + (written - 1)), 10, written - 1);
    assertEquals(0, rangedGets(), "served from the temp file while the download is held");

    site.relay().release();
    assertArrayEquals(blob, whole.finish());
    site.cistern().awaitDownloadsStored();
    assertPartial(send("Range", "bytes=-" + SIZE / 2), SIZE / 2, SIZE - 1);
    assertPartial(send("Range", "bytes=1000-1999"), 1000, 1999);
    assertEquals(0, rangedGets());
    assertEquals(1, fullGets());
  }

  private static void assertPartial(HttpResponse<byte[]> response, long first, long last) {
    assertEquals(206, response.statusCode());
    assertEquals("bytes " + first + "-" + last + "/" + SIZE, response.headers().firstValue("Content-Range").orElseThrow());
    assertEquals(String.valueOf(last - first + 1), response.headers().firstValue("Content-Length").orElseThrow());
    assertArrayEquals(Arrays.copyOfRange(blob, (int) first, (int) last + 1), response.body());
  }

  private HttpResponse<byte[]> send(String... headers) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(site.cistern().url(blobPath())).GET();
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray()).get(60, TimeUnit.SECONDS);
  }

  /** Blob GETs that reached the upstream with a {@code Range}: relays (no download here is resumed). */
  private long rangedGets() {
    return blobGets().stream().filter(request -> request.hasHeader("Range")).count();
  }

  private long fullGets() {
    return blobGets().stream().filter(request -> !request.hasHeader("Range")).count();
  }

  private List<CountingRelay.Request> blobGets() {
    return site.relay().requests().stream()
        .filter(request -> request.method().equals("GET") && request.path().equals(blobPath()))
        .toList();
  }

  private static String blobPath() {
    return "/v2/" + REPOSITORY + "/blobs/" + digest;
  }

  private static byte[] random(long seed, int size) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
