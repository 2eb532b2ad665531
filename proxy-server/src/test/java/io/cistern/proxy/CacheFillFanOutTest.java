package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.BlobStream;
import io.cistern.testing.BoundedClients;
import io.cistern.testing.CisternOnRelay;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RawHttpConnection;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Cache fill under fan-out, against a real Distribution behind a {@link CountingRelay}: one
 * upstream fetch per blob and per tag however many clients ask, bytes to every client while the
 * download runs, and clients that stall or hang up affect nobody else.
 *
 * <p>Where a test must know that requests overlap a download, the relay holds the upstream's
 * answer after {@link #HOLD} bytes until the test releases it: no clock decides anything.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class CacheFillFanOutTest {

  private static final int CLIENTS = 16;
  private static final int HOLD = 256 * 1024;
  private static final String REPOSITORY = "team/blobs";

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final byte[] large = random(1, 4 << 20);
  private static final byte[] otherLarge = random(2, 4 << 20);
  private static final byte[] huge = random(3, 12 << 20);
  private static final List<byte[]> small = List.of(random(10, 300_000), random(11, 300_000), random(12, 300_000),
      random(13, 300_000), random(14, 300_000), random(15, 300_000));
  private static final TestImage image = TestImage.random(20, 2, 50_000, "amd64");

  @RegisterExtension
  final CisternOnRelay site = new CisternOnRelay(upstream);

  @RegisterExtension
  final BoundedClients clients = new BoundedClients();

  @TempDir
  Path temp;

  @BeforeAll
  static void seed() throws Exception {
    for (byte[] blob : Stream.concat(Stream.of(large, otherLarge, huge), small.stream()).toList()) {
      upstream.pushBlob(REPOSITORY, blob);
    }
    upstream.push("team/app", "v1", image);
  }

  @Test
  void sixteenClientsOfAColdBlobShareOneUpstreamGetAndAllGetTheRightBytes() throws Exception {
    site.relay().holdAfter(HOLD);
    List<CompletableFuture<BlobStream>> streams = new ArrayList<>();
    for (int i = 0; i < CLIENTS; i++) {
      streams.add(clients.openLater(blobUri(large)));
    }
    // Every client has bytes while the upstream is still held: all sixteen overlap one download.
    CompletableFuture.allOf(streams.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    site.relay().release();

    for (CompletableFuture<BlobStream> stream : streams) {
      assertEquals(200, stream.join().status());
      assertArrayEquals(large, stream.join().finish());
    }
    assertEquals(1, upstreamGets(large));
    site.cistern().awaitDownloadsStored();
    assertTrue(Files.isRegularFile(cachePath(large)));
  }

  @Test
  void manyClientsFollowingOneDownloadWholeAndInRangesEachGetExactlyTheirBytes() throws Exception {
    // Plain HTTP: the followers are sent the temp file by sendfile (FollowingFileSlices), each at
    // its own pace, with the upstream held mid-blob so that every one of them follows the download.
    site.relay().holdAfter(HOLD);
    BlobStream opener = clients.open(blobUri(huge));
    // At least this much is written, so ranges that start before it follow the download too
    // (rather than being relayed from the upstream, as ranges beyond the bytes written are).
    int written = opener.first().length;
    List<String> ranges = List.of("bytes=0-", (written - 1) + "-", (written / 2) + "-" + (huge.length / 2),
        "0-" + (huge.length - 2), "0-" + (HOLD + 300_000));
    List<CompletableFuture<BlobStream>> whole = new ArrayList<>();
    List<CompletableFuture<BlobStream>> ranged = new ArrayList<>();
    for (int i = 0; i < 2 * CLIENTS; i++) {
      whole.add(clients.openLater(blobUri(huge)));
    }
    for (int i = 0; i < 2 * ranges.size(); i++) {
      String range = ranges.get(i % ranges.size());
      ranged.add(clients.openLater(blobUri(huge), "Range", range.startsWith("bytes=") ? range : "bytes=" + range));
    }
    CompletableFuture.allOf(Stream.concat(whole.stream(), ranged.stream()).toArray(CompletableFuture[]::new))
        .get(60, TimeUnit.SECONDS);
    assertFalse(Files.exists(cachePath(huge)), "all of them are in while the download is held");
    site.relay().release();

    assertArrayEquals(huge, opener.finish());
    for (CompletableFuture<BlobStream> stream : whole) {
      assertEquals(200, stream.join().status());
      assertArrayEquals(huge, stream.join().finish());
    }
    for (int i = 0; i < ranged.size(); i++) {
      String range = ranges.get(i % ranges.size()).replace("bytes=", "");
      int first = Integer.parseInt(range.substring(0, range.indexOf('-')));
      String end = range.substring(range.indexOf('-') + 1);
      int last = end.isEmpty() ? huge.length - 1 : Integer.parseInt(end);
      BlobStream stream = ranged.get(i).join();
      assertEquals(206, stream.status(), range);
      assertArrayEquals(Arrays.copyOfRange(huge, first, last + 1), stream.finish(), range);
    }
    assertEquals(1, upstreamGets(huge), "one download, and no range relayed");
    assertEquals(1, site.relay().requests().stream().filter(request -> request.path().contains("/blobs/")).count());
  }

  @Test
  void coldBlobsAskedForBySixteenClientsAtOnceAreEachFetchedOnce() throws Exception {
    // No hold here: requests land before, during and after each download's end, the races the
    // single flight has to survive.
    List<URI> uris = new ArrayList<>();
    for (byte[] blob : small) {
      uris.addAll(Collections.nCopies(CLIENTS, blobUri(blob)));
    }
    List<HttpResponse<byte[]>> responses = clients.getAtOnce(uris);
    for (int i = 0; i < responses.size(); i++) {
      HttpResponse<byte[]> response = responses.get(i);
      assertEquals(200, response.statusCode());
      assertArrayEquals(small.get(i / CLIENTS), response.body());
    }
    for (byte[] blob : small) {
      assertEquals(1, upstreamGets(blob), "upstream GETs of one blob");
    }
  }

  @Test
  void distinctDigestsDownloadInParallel() throws Exception {
    site.relay().holdAfter(HOLD);
    CompletableFuture<BlobStream> one = clients.openLater(blobUri(large));
    CompletableFuture<BlobStream> other = clients.openLater(blobUri(otherLarge));
    // Both have bytes while both upstream answers are held: neither download waits for the other.
    CompletableFuture.allOf(one, other).get(60, TimeUnit.SECONDS);
    site.relay().release();

    assertArrayEquals(large, one.join().finish());
    assertArrayEquals(otherLarge, other.join().finish());
    assertEquals(1, upstreamGets(large));
    assertEquals(1, upstreamGets(otherLarge));
  }

  @Test
  void aClientReceivesTheFirstBytesWhileTheUpstreamIsStillSendingTheBlob() throws Exception {
    site.relay().holdAfter(HOLD);
    BlobStream stream = clients.open(blobUri(large));

    byte[] first = stream.first();
    assertTrue(first.length > 0);
    assertArrayEquals(Arrays.copyOf(large, first.length), first, "the first bytes are the blob's");
    assertFalse(Files.exists(cachePath(large)), "the blob is not published while the upstream is held");
    assertEquals(String.valueOf(large.length), stream.response().headers().firstValue("Content-Length").orElseThrow(),
        "the size the upstream announced is passed on before the download ends");

    site.relay().release();
    assertArrayEquals(large, stream.finish());
    site.cistern().awaitDownloadsStored();
    assertTrue(Files.isRegularFile(cachePath(large)));
  }

  @Test
  void aClientThatStopsReadingHoldsUpNeitherTheDownloadNorOtherClients() throws Exception {
    site.relay().holdAfter(HOLD);
    try (RawHttpConnection stalled = RawHttpConnection.open(site.cistern().port(), 4096)) {
      stalled.send("GET", blobPath(huge));
      assertEquals(200, stalled.readHead().status());
      byte[] stalledFirst = stalled.readSome(1024);
      BlobStream reader = clients.open(blobUri(huge));
      site.relay().release();

      // The blob (far more than the socket buffers of the stalled client hold) reaches the other
      // client whole, and is stored while the stalled client still reads.
      assertArrayEquals(huge, reader.finish());
      site.cistern().awaitDownloadsStored();
      assertTrue(Files.isRegularFile(cachePath(huge)));

      // The stalled client was not dropped either: it gets the rest at its own pace.
      byte[] rest = stalled.readUpTo(huge.length - stalledFirst.length);
      byte[] all = Arrays.copyOf(stalledFirst, huge.length);
      System.arraycopy(rest, 0, all, stalledFirst.length, rest.length);
      assertEquals(huge.length - stalledFirst.length, rest.length);
      assertArrayEquals(huge, all);
    }
    assertEquals(1, upstreamGets(huge));
  }

  @Test
  void aClientThatHangsUpDoesNotCancelTheSharedDownload() throws Exception {
    site.relay().holdAfter(HOLD);
    RawHttpConnection leaving = RawHttpConnection.open(site.cistern().port(), 0);
    leaving.send("GET", blobPath(large));
    assertEquals(200, leaving.readHead().status());
    leaving.readSome(1024);
    BlobStream staying = clients.open(blobUri(large));
    leaving.abort();
    site.relay().release();

    assertArrayEquals(large, staying.finish());
    site.cistern().awaitDownloadsStored();
    assertTrue(Files.isRegularFile(cachePath(large)), "the blob is published");
    assertEquals(1, upstreamGets(large));
  }

  @Test
  void sixteenConcurrentGetsOfAColdTagMakeOneUpstreamManifestRequest() throws Exception {
    List<HttpResponse<byte[]>> responses = concurrently("/v2/team/app/manifests/v1");

    for (HttpResponse<byte[]> response : responses) {
      assertEquals(200, response.statusCode());
      assertArrayEquals(image.manifest().bytes(), response.body());
    }
    assertEquals(1, site.relay().count("GET", path -> path.equals("/v2/team/app/manifests/v1")));
    assertEquals(1, site.relay().requests().stream().filter(request -> request.path().contains("/manifests/")).count(),
        "no other manifest request reached the upstream");
  }

  @Test
  void sixteenConcurrentGetsOfAColdManifestDigestMakeOneUpstreamRequest() throws Exception {
    List<HttpResponse<byte[]>> responses = concurrently("/v2/team/app/manifests/" + image.digest());

    for (HttpResponse<byte[]> response : responses) {
      assertEquals(200, response.statusCode());
      assertArrayEquals(image.manifest().bytes(), response.body());
    }
    assertEquals(1, site.relay().requests().stream().filter(request -> request.path().contains("/manifests/")).count());
  }

  @Test
  void sixteenConcurrentGetsOfAStaleTagRevalidateItWithOneHead() throws Exception {
    MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
    try (TestCistern timed = TestCistern.fromYaml(temp.resolve("timed"), """
        cache:
          directory: %s
        tagTtl: 1m
        tagRevalidation: blocking    # every client waits on the one HEAD
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(temp.resolve("timed/cache"), site.relay().url()), clock)) {
      assertEquals(200, concurrently(timed, "/v2/team/app/manifests/v1").get(0).statusCode());
      clock.advance(Duration.ofMinutes(2));

      for (HttpResponse<byte[]> response : concurrently(timed, "/v2/team/app/manifests/v1")) {
        assertEquals(200, response.statusCode());
        assertArrayEquals(image.manifest().bytes(), response.body());
      }
    }
    assertEquals(1, site.relay().count("HEAD", path -> path.equals("/v2/team/app/manifests/v1")), "one revalidation");
    assertEquals(1, site.relay().count("GET", path -> path.contains("/manifests/")), "the unchanged tag fetched nothing");
  }

  private List<HttpResponse<byte[]>> concurrently(String path) throws Exception {
    return concurrently(site.cistern(), path);
  }

  private List<HttpResponse<byte[]>> concurrently(TestCistern target, String path) throws Exception {
    return clients.getAtOnce(Collections.nCopies(CLIENTS, target.url(path)), "Accept", MediaTypes.OCI_MANIFEST);
  }

  private long upstreamGets(byte[] blob) {
    return site.relay().count("GET", path -> path.equals(blobPath(blob)));
  }

  private URI blobUri(byte[] blob) {
    return site.cistern().url(blobPath(blob));
  }

  private static String blobPath(byte[] blob) {
    return "/v2/" + REPOSITORY + "/blobs/" + Digest.sha256Of(blob);
  }

  private Path cachePath(byte[] blob) {
    return site.cistern().cistern().cache().blobs().pathOf(Digest.sha256Of(blob));
  }

  private static byte[] random(long seed, int size) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
