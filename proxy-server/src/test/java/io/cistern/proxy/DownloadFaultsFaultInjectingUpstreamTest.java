package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.BlobStream;
import io.cistern.testing.BoundedClients;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.SocketFaultInjectingUpstream;
import io.cistern.testing.SocketFaultInjectingUpstream.CutAfter;
import io.cistern.testing.SocketFaultInjectingUpstream.Corrupt;
import io.cistern.testing.SocketFaultInjectingUpstream.Empty;
import io.cistern.testing.SocketFaultInjectingUpstream.NoAnswer;
import io.cistern.testing.SocketFaultInjectingUpstream.StallAfter;
import io.cistern.testing.SocketFaultInjectingUpstream.Unsized;
import io.cistern.testing.RawHttpConnection;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Upstream faults a real registry cannot be made to produce, from a {@link SocketFaultInjectingUpstream}:
 * connections cut or stalled mid-blob are resumed (by {@code Range}, or from byte zero with the
 * prefix checked) until the retry window runs out, wrong or short content is never published and never reaches a client as a
 * complete-looking body, and nothing wrong or temporary is left in the cache directory.
 *
 * <p>Where a client must be attached to a download before the fault strikes, a
 * {@link CountingRelay} between Cistern and the fault injector holds the answer until released.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class DownloadFaultsFaultInjectingUpstreamTest {

  private static final int SIZE = 3 << 20;
  private static final long CUT = 1 << 20;
  private static final int HOLD = 256 * 1024;
  private static final String REPOSITORY = "team/faults";

  @TempDir
  Path temp;

  private final byte[] content = TestImage.Blob.random(7, SIZE).bytes();

  @RegisterExtension
  final BoundedClients clients = new BoundedClients();
  private SocketFaultInjectingUpstream upstream;
  private CountingRelay relay;
  private TestCistern cistern;

  @AfterEach
  void stop() throws IOException {
    if (relay != null) {
      relay.release();
      relay.close();
    }
    if (cistern != null) {
      cistern.close();
    }
    upstream.close();
  }

  @Test
  void aConnectionCutMidBlobIsResumedWithARangeRequestFromTheBytesWritten() throws Exception {
    Digest digest = start(true, false);
    upstream.script(digest, new CutAfter(CUT));

    assertArrayEquals(content, get(digest).body());

    List<SocketFaultInjectingUpstream.Request> gets = upstream.gets(blobPath(digest));
    assertEquals(2, gets.size());
    assertNull(gets.get(0).range());
    assertEquals("bytes=" + CUT + "-", gets.get(1).range(), "resumed where the first answer stopped");
    assertPublishedRight(digest);
  }

  @Test
  void withoutRangeSupportACutDownloadRestartsFromZeroAndKeepsItsPrefix() throws Exception {
    Digest digest = start(false, false);
    upstream.script(digest, new CutAfter(CUT));

    assertArrayEquals(content, get(digest).body());

    assertEquals(2, upstream.gets(blobPath(digest)).size());
    assertPublishedRight(digest);
  }

  @Test
  void aColdTailRangeThatAnUpstreamIgnoringRangesAnswersWholeFollowsTheDownloadInstead() throws Exception {
    Digest digest = start(false, false);

    HttpResponse<byte[]> tail = clients.get(blobUri(digest), "Range", "bytes=-100");

    assertEquals(206, tail.statusCode());
    assertEquals("bytes " + (SIZE - 100) + "-" + (SIZE - 1) + "/" + SIZE, tail.headers().firstValue("Content-Range").orElseThrow());
    assertArrayEquals(Arrays.copyOfRange(content, SIZE - 100, SIZE), tail.body());
    List<String> ranges = upstream.gets(blobPath(digest)).stream()
        .map(request -> String.valueOf(request.range())).sorted().toList();
    assertEquals(List.of("bytes=-100", "null"), ranges, "the relay was tried once, its whole answer left unread, beside the one download");
    assertPublishedRight(digest);
    Scrape metrics = Scrape.parse(cistern.admin("/metrics").body());
    assertEquals(1, metrics.value("cistern_upstream_range_relays_total", "upstream", "upstream.test"));
  }

  @Test
  void aRestartWhoseLeadingBytesDifferIsAbandonedAndItsClientCutOff() throws Exception {
    Digest digest = start(false, true);
    upstream.script(digest, new CutAfter(CUT), new Corrupt(10));

    assertCutOffBeforeTheEnd(digest);

    assertEquals(2, upstream.gets(blobPath(digest)).size(), "a content mismatch is not retried");
    assertNothingCached(digest);
  }

  @Test
  void wrongBytesAreNeverPublishedAndClientsLoseTheConnectionBeforeTheLastByte() throws Exception {
    Digest digest = start(true, true);
    upstream.script(digest, new Corrupt(SIZE - 1));

    assertCutOffBeforeTheEnd(digest);
    assertNothingCached(digest);

    // Nothing of the failed download lingers: the next request fetches afresh and gets it right.
    assertArrayEquals(content, get(digest).body());
    assertEquals(2, upstream.gets(blobPath(digest)).size());
    assertPublishedRight(digest);
  }

  @Test
  void aShortBodyWithoutALengthIsNotPublishedAndItsClientSeesAnError() throws Exception {
    Digest digest = start(true, true);
    upstream.script(digest, new Unsized(SIZE / 2));
    relay.holdAfter(HOLD);
    BlobStream stream = clients.open(blobUri(digest));
    assertEquals(200, stream.status());
    assertTrue(stream.response().headers().firstValue("Content-Length").isEmpty(), "the size is not known yet");
    relay.release();

    assertThrows(IOException.class, stream::finish, "the chunked body never ends cleanly");
    assertNothingCached(digest);
  }

  @Test
  void aBlobAnnouncedEmptyIsNotAnsweredWithAnEmpty200BeforeItIsVerified() throws Exception {
    Digest digest = start(true, false);
    upstream.script(digest, new Empty());

    HttpResponse<byte[]> response = get(digest);

    assertEquals(502, response.statusCode(), "an empty body that does not hash to the digest is no blob");
    assertTrue(new String(response.body(), StandardCharsets.UTF_8).contains("UNAVAILABLE"));
    assertNothingCached(digest);
    assertArrayEquals(content, get(digest).body(), "the next request fetches it whole");
  }

  @Test
  void aStalledUpstreamIsDroppedAfterTheIdleTimeoutAndTheDownloadResumes() throws Exception {
    Digest digest = start(true, false);
    upstream.script(digest, new StallAfter(CUT));

    assertArrayEquals(content, get(digest).body());

    List<SocketFaultInjectingUpstream.Request> gets = upstream.gets(blobPath(digest));
    assertEquals(2, gets.size());
    assertEquals("bytes=" + CUT + "-", gets.get(1).range());
    assertPublishedRight(digest);
  }

  @Test
  void anUpstreamThatKeepsDroppingMidBodyIsResumedEachTimeFromWhereItStopped() throws Exception {
    Digest digest = start(true, false);
    // Three drops, more than maxRetries (2): an attempt that brought bytes ends the outage, and
    // connection failures are bounded by the retry window, not by maxRetries.
    upstream.script(digest, new CutAfter(CUT / 2), new CutAfter(CUT / 2), new CutAfter(CUT / 2));

    assertArrayEquals(content, get(digest).body());

    List<SocketFaultInjectingUpstream.Request> gets = upstream.gets(blobPath(digest));
    assertEquals(List.of("none", "bytes=" + CUT / 2 + "-", "bytes=" + CUT + "-", "bytes=" + 3 * CUT / 2 + "-"),
        gets.stream().map(get -> get.range() == null ? "none" : get.range()).toList());
    assertPublishedRight(digest);
  }

  @Test
  void anUpstreamThatDropsEveryAttemptBeforeAByteIsGivenUpOnWhenTheRetryWindowRunsOut() throws Exception {
    Digest digest = start(true, true);
    upstream.script(digest, new CutAfter(CUT / 2));
    for (int i = 0; i < 50; i++) {
      // More than the 1 s window's backoff leaves room for: every attempt after the first fails.
      upstream.script(digest, new CutAfter(0));
    }

    assertCutOffBeforeTheEnd(digest);

    assertTrue(Scrape.parse(cistern.admin("/metrics").body()).sum("cistern_upstream_retries_total") >= 1,
        "retried while the window lasted");
    assertNothingCached(digest);
  }

  @Test
  void aRetryWindowOfZeroTurnsADownloadsRetriesOff() throws Exception {
    Digest digest = start(true, true, "0s");
    upstream.script(digest, new CutAfter(CUT));

    assertCutOffBeforeTheEnd(digest);

    assertEquals(1, upstream.gets(blobPath(digest)).size());
    assertNothingCached(digest);
  }

  @Test
  void anUpstreamThatNeverAnswersGetsTheClientAGatewayTimeoutNotAHang() throws Exception {
    Digest digest = start(true, false);
    upstream.script(digest, new NoAnswer(), new NoAnswer());

    HttpResponse<byte[]> response = get(digest);

    assertEquals(504, response.statusCode());
    assertTrue(new String(response.body(), StandardCharsets.UTF_8).contains("UNAVAILABLE"));
    // The first attempt's 1 s response timeout starts the 1 s retry window; the retry's ends it.
    assertEquals(1, Scrape.parse(cistern.admin("/metrics").body())
        .value("cistern_upstream_retries_total", "upstream", "upstream.test", "cause", "stalled"));
    assertNothingCached(digest);
  }

  @Test
  void aHeadWhileADownloadOfUnknownSizeRunsAsksTheUpstreamForTheSize() throws Exception {
    Digest digest = start(true, true);
    upstream.script(digest, new Unsized(SIZE));
    relay.holdAfter(HOLD);
    BlobStream stream = clients.open(blobUri(digest));

    HttpResponse<byte[]> head = clients.send("HEAD", blobUri(digest));

    assertEquals(200, head.statusCode());
    assertEquals(String.valueOf(SIZE), head.headers().firstValue("Content-Length").orElseThrow());
    relay.release();
    assertArrayEquals(content, stream.finish());
    assertEquals(1, upstream.gets(blobPath(digest)).size());
    assertPublishedRight(digest);
  }

  @Test
  void aManifestThatDoesNotMatchItsDigestIsRefusedAndNotCached() throws Exception {
    start(true, false);
    byte[] real = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[]}"
        .getBytes(StandardCharsets.UTF_8);
    byte[] tampered = "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[ ]}"
        .getBytes(StandardCharsets.UTF_8);
    Digest asked = Digest.sha256Of(real);
    upstream.manifest(REPOSITORY, asked.toString(), MediaTypes.OCI_MANIFEST, tampered, null);
    upstream.manifest(REPOSITORY, "v1", MediaTypes.OCI_MANIFEST, tampered, asked.toString());

    for (String reference : List.of(asked.toString(), "v1")) {
      HttpResponse<byte[]> response = clients.get(cistern.url("/v2/" + REPOSITORY + "/manifests/" + reference),
          "Accept", MediaTypes.OCI_MANIFEST);
      assertEquals(502, response.statusCode(), reference);
      assertTrue(new String(response.body(), StandardCharsets.UTF_8).contains("MANIFEST_INVALID"), reference);
    }
    assertNothingCached(asked);
    assertNothingCached(Digest.sha256Of(tampered));
  }

  /** Starts the fault injector (optionally behind a holding relay) and a Cistern in front of them. */
  private Digest start(boolean honoursRanges, boolean withRelay) throws Exception {
    return start(honoursRanges, withRelay, "1s");
  }

  private Digest start(boolean honoursRanges, boolean withRelay, String retryWindow) throws Exception {
    upstream = SocketFaultInjectingUpstream.start(honoursRanges);
    Digest digest = upstream.blob(content);
    URI target = upstream.url();
    if (withRelay) {
      relay = CountingRelay.to(upstream.port());
      target = relay.url();
    }
    cistern = TestCistern.fromYaml(temp, """
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            url: %s
            responseTimeout: 1s
            idleTimeout: 500ms
            maxRetries: 2
            retryWindow: %s
        """.formatted(temp.resolve("cache"), target, retryWindow));
    return digest;
  }

  /**
   * A client attached to the download while the relay holds it gets a 200 that announces the full
   * size, then loses the connection before the last byte: never a response that looks complete.
   */
  private void assertCutOffBeforeTheEnd(Digest digest) throws Exception {
    relay.holdAfter(HOLD);
    try (RawHttpConnection client = RawHttpConnection.open(cistern.port(), 0)) {
      client.send("GET", blobPath(digest));
      RawHttpConnection.Head head = client.readHead();
      assertEquals(200, head.status());
      assertEquals(SIZE, head.contentLength());
      byte[] first = client.readSome(1024);
      relay.release();
      byte[] rest = client.readUpTo(SIZE - first.length);
      assertTrue(first.length + rest.length < SIZE,
          "the connection closed after " + (first.length + rest.length) + " of " + SIZE + " bytes");
    }
  }

  private HttpResponse<byte[]> get(Digest digest) throws Exception {
    return clients.get(blobUri(digest));
  }

  private void assertPublishedRight(Digest digest) throws Exception {
    cistern.awaitDownloadsStored();
    Path stored = cistern.cistern().cache().blobs().pathOf(digest);
    assertEquals(digest, Digest.sha256Of(Files.readAllBytes(stored)));
    assertEquals(List.of(), partials());
  }

  private void assertNothingCached(Digest digest) throws IOException {
    assertFalse(Files.exists(cistern.cistern().cache().blobs().pathOf(digest)), "nothing at the blob's path");
    assertEquals(List.of(), partials(), "no temp file left behind");
  }

  private List<Path> partials() throws IOException {
    try (Stream<Path> files = Files.walk(cistern.cistern().cache().blobs().directory())) {
      return files.filter(file -> file.getFileName().toString().endsWith(".partial")).toList();
    }
  }

  private URI blobUri(Digest digest) {
    return cistern.url(blobPath(digest));
  }

  private static String blobPath(Digest digest) {
    return "/v2/" + REPOSITORY + "/blobs/" + digest;
  }
}
