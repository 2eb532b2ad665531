package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.testing.BlobBehindRelay;
import io.cistern.testing.BlobStream;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Client {@code Range} requests on cached blobs and on blobs still downloading (206 with
 * {@code Content-Range}, 416 for ranges outside the blob), and HEAD answered from what is known
 * without fetching the blob. The upstream is a real Distribution behind a {@link CountingRelay}.
 * (Ranges beyond what a download has written: {@link RangeRelayTest}.)
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class BlobRangeAndHeadTest {

  private static final int SIZE = 2 << 20;
  private static final int HOLD = 256 * 1024;
  private static final String REPOSITORY = "team/ranges";

  @RegisterExtension
  static final BlobBehindRelay site = new BlobBehindRelay(REPOSITORY, TestImage.Blob.random(5, SIZE));

  private static final byte[] blob = site.blob().bytes();
  private static final Digest digest = site.blob().digest();

  @Test
  void rangesOfACachedBlobAreAnsweredWith206AndTheirContentRange() throws Exception {
    assertEquals(200, site.send("GET").statusCode());

    assertRange("bytes=10-19", 10, 19);
    assertRange("bytes=1000-", 1000, SIZE - 1);
    assertRange("bytes=-100", SIZE - 100, SIZE - 1);
    assertRange("bytes=-" + (SIZE + 5), 0, SIZE - 1);
    assertRange("bytes=" + (SIZE - 3) + "-" + (SIZE + 1000), SIZE - 3, SIZE - 1);
    assertEquals(1, upstreamGets(), "every range came from the cache");
  }

  @Test
  void rangesOutsideTheBlobAreRefusedWith416() throws Exception {
    assertEquals(200, site.send("GET").statusCode());

    for (String range : new String[] {"bytes=" + SIZE + "-", "bytes=20-10", "bytes=-0", "bytes=x-y"}) {
      HttpResponse<byte[]> response = site.send("GET", "Range", range);
      assertEquals(416, response.statusCode(), range);
      assertEquals("bytes */" + SIZE, response.headers().firstValue("Content-Range").orElseThrow(), range);
    }
  }

  @Test
  void withoutARangeTheWholeBlobComesWithAcceptRanges() throws Exception {
    HttpResponse<byte[]> response = site.send("GET");

    assertEquals(200, response.statusCode());
    assertEquals("bytes", response.headers().firstValue("Accept-Ranges").orElseThrow());
    assertArrayEquals(blob, response.body());
  }

  @Test
  void aRangeWithinTheBytesADownloadHasWrittenIsServedFromItsTempFile() throws Exception {
    site.relay().holdAfter(HOLD);
    BlobStream whole = site.open();
    // What this client has, the download has written.
    int written = whole.first().length;
    assertTrue(written > 1, "the first read brought more than a byte");

    // The announced size answers a bad range at once, while the upstream is still held.
    HttpResponse<byte[]> refused = site.send("GET", "Range", "bytes=" + SIZE + "-");
    assertEquals(416, refused.statusCode());
    assertEquals("bytes */" + SIZE, refused.headers().firstValue("Content-Range").orElseThrow());
    site.assertPartial(site.send("GET", "Range", "bytes=1-" + (written - 1)), 1, written - 1);

    site.relay().release();
    assertArrayEquals(blob, whole.finish());
    assertEquals(1, upstreamGets(), "the range was served from the download under way, still held when it was");
  }

  @Test
  void headOfAColdBlobAsksTheUpstreamWithAHeadAndDownloadsNothing() throws Exception {
    HttpResponse<byte[]> response = site.send("HEAD");

    assertEquals(200, response.statusCode());
    assertEquals(String.valueOf(SIZE), response.headers().firstValue("Content-Length").orElseThrow());
    assertEquals(digest.toString(), response.headers().firstValue("Docker-Content-Digest").orElseThrow());
    assertEquals(0, response.body().length);
    assertEquals(1, site.relay().count("HEAD", path -> path.equals(site.path())));
    assertEquals(0, upstreamGets());
    assertEquals(0, site.cistern().cistern().blobs().downloadsInFlight());
    assertFalse(Files.exists(site.cistern().cistern().cache().blobs().pathOf(digest)));
  }

  @Test
  void headOfACachedBlobOrOfADownloadUnderWayAsksTheUpstreamNothing() throws Exception {
    site.relay().holdAfter(HOLD);
    BlobStream whole = site.open();

    HttpResponse<byte[]> during = site.send("HEAD");
    assertEquals(200, during.statusCode());
    assertEquals(String.valueOf(SIZE), during.headers().firstValue("Content-Length").orElseThrow());

    site.relay().release();
    assertArrayEquals(blob, whole.finish());
    HttpResponse<byte[]> after = site.send("HEAD");
    assertEquals(200, after.statusCode());
    assertEquals(String.valueOf(SIZE), after.headers().firstValue("Content-Length").orElseThrow());
    assertEquals(0, after.body().length);
    assertEquals(0, site.relay().count("HEAD", path -> path.contains("/blobs/")));
    assertEquals(1, upstreamGets());
  }

  @Test
  void headOfABlobTheUpstreamDoesNotHaveIs404WithoutABody() throws Exception {
    Digest unknown = Digest.sha256Of(new byte[] {1, 2, 3});
    HttpResponse<byte[]> response = site.cistern().send("HEAD", "/v2/" + REPOSITORY + "/blobs/" + unknown);

    assertEquals(404, response.statusCode());
    assertEquals(0, response.body().length);
  }

  private void assertRange(String range, long first, long last) throws Exception {
    site.assertPartial(site.send("GET", "Range", range), first, last);
  }

  private long upstreamGets() {
    return site.blobGets().size();
  }
}
