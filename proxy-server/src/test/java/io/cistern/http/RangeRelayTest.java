package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.proxy.RangeRelay;
import io.cistern.testing.BlobBehindRelay;
import io.cistern.testing.BlobStream;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Ranges as lazy-pull readers ask them (a layer's end first): on a cold blob, a range beyond what
 * the download has written is relayed from a ranged upstream GET at once, while the blob's one
 * full download goes on (or, for a small first range of a blob nothing here has yet, starts as
 * soon as the range is in) (here held by the relay in front of a real Distribution, so "at once"
 * needs no clock: the answer comes while the download cannot have reached those bytes). Ranges
 * within what is written or cached ask the upstream nothing more.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class RangeRelayTest {

  private static final int SIZE = 6 << 20;
  private static final int HOLD = 256 * 1024;

  @RegisterExtension
  static final BlobBehindRelay site = new BlobBehindRelay("team/lazy", TestImage.Blob.random(11, SIZE));

  private static final byte[] blob = site.blob().bytes();
  private static final Digest digest = site.blob().digest();

  @Test
  void aTailRangeBeyondTheBytesWrittenIsRelayedWhileTheDownloadIsHeldAndTheDownloadStillCompletes() throws Exception {
    site.relay().holdAfter(HOLD);
    BlobStream whole = site.open();

    HttpResponse<byte[]> tail = send("Range", "bytes=-100");
    HttpResponse<byte[]> middle = send("Range", "bytes=" + (SIZE / 2) + "-" + (SIZE / 2 + 9999));

    site.assertPartial(tail, SIZE - 100, SIZE - 1);
    site.assertPartial(middle, SIZE / 2, SIZE / 2 + 9999);
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

    site.assertPartial(tail, SIZE - 51, SIZE - 1);
    assertEquals(1, rangedGets());
    site.relay().release();
    site.cistern().awaitDownloadsStored();
    assertEquals(1, fullGets(), "the blob's download started beside the relay");
    assertArrayEquals(blob, Files.readAllBytes(site.cistern().cistern().cache().blobs().pathOf(digest)));
    site.assertPartial(send("Range", "bytes=-100"), SIZE - 100, SIZE - 1);
    assertEquals(1, rangedGets(), "a range of the cached blob asked the upstream nothing");
    assertEquals(1, fullGets());
  }

  @Test
  void aSmallRangeOfAColdBlobGoesFirstAndTheBlobsDownloadStartsOnceTheRangeIsIn() throws Exception {
    CountingRelay.AnswerHold ranged = holdEveryAnswerAndTheRangedOneEarlier();

    CompletableFuture<HttpResponse<byte[]>> tail = sendLater("Range", "bytes=-200000");
    ranged.engaged().get(60, TimeUnit.SECONDS);
    assertEquals(0, site.cistern().cistern().blobs().downloadsInFlight(), "no download while the range is on its way");
    assertEquals(0, fullGets());

    ranged.release();
    site.assertPartial(tail.get(60, TimeUnit.SECONDS), SIZE - 200000, SIZE - 1);
    assertEquals(1, site.cistern().cistern().blobs().downloadsInFlight(), "started before the range's last byte went out");
    site.relay().release();
    site.cistern().awaitDownloadsStored();
    assertEquals(1, fullGets(), "the one full download");
    assertArrayEquals(blob, Files.readAllBytes(site.cistern().cistern().cache().blobs().pathOf(digest)));
  }

  @Test
  void aLargeRangeOfAColdBlobStartsTheBlobsDownloadAtOnce() throws Exception {
    CountingRelay.AnswerHold ranged = holdEveryAnswerAndTheRangedOneEarlier();

    CompletableFuture<HttpResponse<byte[]>> rest = sendLater("Range", "bytes=1-");
    ranged.engaged().get(60, TimeUnit.SECONDS);
    // More than SMALL_RANGE: the full GET reaches the upstream while the range's answer is held.
    site.relay().awaitRequests(request -> request.path().contains("/blobs/") && !request.hasHeader("Range"), 1)
        .get(60, TimeUnit.SECONDS);
    assertEquals(1, site.cistern().cistern().blobs().downloadsInFlight(),
        "more than " + (RangeRelay.SMALL_RANGE >> 20) + " MiB: the download does not wait for it");

    ranged.release();
    site.relay().release();
    site.assertPartial(rest.get(60, TimeUnit.SECONDS), 1, SIZE - 1);
    site.cistern().awaitDownloadsStored();
    assertEquals(1, fullGets());
    assertEquals(1, rangedGets());
  }

  @Test
  void aRangeWithinTheBytesWrittenAndOneOfACachedBlobAskTheUpstreamNothing() throws Exception {
    site.relay().holdAfter(HOLD);
    BlobStream whole = site.open();
    int written = whole.first().length;
    assertTrue(written > 10, "the first read brought more than ten bytes");

    site.assertPartial(send("Range", "bytes=10-" + (written - 1)), 10, written - 1);
    assertEquals(0, rangedGets(), "served from the temp file while the download is held");

    site.relay().release();
    assertArrayEquals(blob, whole.finish());
    site.cistern().awaitDownloadsStored();
    site.assertPartial(send("Range", "bytes=-" + SIZE / 2), SIZE / 2, SIZE - 1);
    site.assertPartial(send("Range", "bytes=1000-1999"), 1000, 1999);
    assertEquals(0, rangedGets());
    assertEquals(1, fullGets());
  }

  private HttpResponse<byte[]> send(String... headers) throws Exception {
    return site.send("GET", headers);
  }

  /** Every answer stops after HOLD bytes, and the first ranged one after 1,000, each until released. */
  private static CountingRelay.AnswerHold holdEveryAnswerAndTheRangedOneEarlier() {
    site.relay().holdAfter(HOLD);
    CountingRelay.AnswerHold ranged = CountingRelay.AnswerHold.of(request -> request.hasHeader("Range"), 1000);
    site.relay().holdAnswer(ranged);
    return ranged;
  }

  private CompletableFuture<HttpResponse<byte[]>> sendLater(String... headers) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return send(headers);
      } catch (Exception e) {
        throw new CompletionException(e);
      }
    });
  }

  /** Blob GETs that reached the upstream with a {@code Range}: relays (no download here is resumed). */
  private long rangedGets() {
    return site.blobGets().stream().filter(request -> request.hasHeader("Range")).count();
  }

  private long fullGets() {
    return site.blobGets().stream().filter(request -> !request.hasHeader("Range")).count();
  }
}
