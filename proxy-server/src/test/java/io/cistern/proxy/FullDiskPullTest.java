package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.TagKey;
import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import io.cistern.testing.BlobStream;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import io.cistern.testing.TmpfsMount;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
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
import org.slf4j.LoggerFactory;

/**
 * Pulls through a Cistern whose disk is short of space, from a real Distribution behind
 * {@link CountingRelay}s that count what reaches it. A blob that cannot be stored is refused with
 * a 507 OCI error before any header of a body is sent (a mirror client then fetches it from the
 * upstream itself), and never fetched again by {@code Range}; an uncached manifest is served from
 * memory; what is cached is served; {@code /readyz} reports the low disk.
 *
 * <p>One test needs no privilege: the free-space threshold is set above what the real file
 * system has free. The other mounts a small tmpfs (as root; skipped otherwise) and fills it.
 */
@Timeout(value = 180, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class FullDiskPullTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long MIB = 1L << 20;
  private static final int HOLD = 256 * 1024;
  private static final String BLOBS = "team/blobs";

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final TestImage cached = TestImage.random(41, 2, 40_000, "amd64");
  private static final TestImage uncached = TestImage.random(42, 1, 40_000, "amd64");
  /** Larger than the whole small file system. */
  private static final byte[] huge = random(43, (int) (24 * MIB));
  private static final byte[] medium = random(44, (int) (3 * MIB));

  @TempDir
  Path temp;

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void seed() throws Exception {
    upstream.push("team/cached", "1.0", cached);
    upstream.push("team/uncached", "1.0", uncached);
    upstream.pushBlob(BLOBS, huge);
    upstream.pushBlob(BLOBS, medium);
  }

  @Test
  void belowTheFreeSpaceThresholdANewBlobIs507BeforeTheUpstreamIsAskedAndTheCacheStillServes() throws Exception {
    Path cache = temp.resolve("cache");
    try (CountingRelay relay = CountingRelay.to(upstream.port())) {
      try (TestCistern cistern = start(cache, relay.url(), null, "0")) {
        pull(cistern, "team/cached", cached);
      }
      // Above what the real file system has free, whatever else runs on it.
      String aboveFree = "1000000TiB";
      try (TestCistern cistern = start(cache, relay.url(), null, aboveFree)) {
        int asked = relay.requests().size();
        pull(cistern, "team/cached", cached);
        assertEquals(asked, relay.requests().size(), "what is cached is served from the cache");

        assertRefused(cistern.get("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(medium)));
        assertEquals(0, upstreamGets(relay, medium), "no download is started that could not be stored");

        JsonNode ready = readyz(cistern, 503);
        assertTrue(ready.path("checks").path("freeDisk").asText().contains("below the minimum"), ready.toString());
      }
    }
  }

  @Test
  void onAFullFileSystemBlobsAre507WithoutRangeRefetchesManifestsAreServedAndTheCacheStillServes() throws Exception {
    Path mountPoint = temp.resolve("small");
    ListAppender<ILoggingEvent> logs = capture("io.cistern");
    try (TmpfsMount mounted = TmpfsMount.mount(mountPoint, 16 * MIB);
         CountingRelay relay = CountingRelay.to(upstream.port());
         CountingRelay held = CountingRelay.to(upstream.port());
         TestCistern cistern = start(mountPoint.resolve("cache"), relay.url(), held.url(), "2MiB")) {
      pull(cistern, "team/cached", cached);
      cistern.awaitDownloadsStored();

      // Larger than the free space: refused once its size is known, before any byte of a body.
      assertRefused(cistern.get("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(huge)));
      assertEquals(1, upstreamGets(relay, huge));
      assertNoRangeRequests(relay);

      Path filler = mountPoint.resolve("filler");
      TmpfsMount.fill(filler);
      JsonNode ready = readyz(cistern, 503);
      assertTrue(ready.path("checks").path("freeDisk").asText().contains("below the minimum"), ready.toString());

      pull(cistern, "team/cached", cached);
      // Verified, so served, though the disk cannot keep it.
      HttpResponse<byte[]> manifest = cistern.get("/v2/team/uncached/manifests/1.0", "Accept", MediaTypes.OCI_MANIFEST);
      assertEquals(200, manifest.statusCode(), new String(manifest.body()));
      assertArrayEquals(uncached.manifest().bytes(), manifest.body());
      assertEquals(uncached.digest().toString(), manifest.headers().firstValue("Docker-Content-Digest").orElseThrow());
      assertFalse(cistern.cistern().cache().blobs().contains(uncached.digest()));
      assertTrue(cistern.cistern().cache().tags().find(new TagKey("upstream.test", RepositoryName.of("team/uncached"), new Tag("1.0")))
          .isEmpty(), "no stored tag points at a manifest that is not stored");
      TestImage.Blob layer = uncached.blobs().get(1);
      assertRefused(cistern.get("/v2/team/uncached/blobs/" + layer.digest()));
      assertEquals(0, relay.count("GET", path -> path.endsWith(layer.digest().toString())));

      // Room at the start, none half way: the download fails as the cache's, not the upstream's.
      Files.delete(filler);
      held.holdAfter(HOLD);
      BlobStream stream = CompletableFuture.supplyAsync(() -> BlobStream.open(http,
          cistern.url("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(medium) + "?ns=held.test"))).get(60, TimeUnit.SECONDS);
      assertEquals(200, stream.status());
      TmpfsMount.fill(filler);
      held.release();
      assertThrows(IOException.class, stream::finish, "the client's body is cut, never completed with wrong bytes");
      assertEquals(1, upstreamGets(held, medium), "no retry meets the same full disk");
      assertNoRangeRequests(held);
      assertEquals(List.of(), partials(mountPoint.resolve("cache")));

      Files.delete(filler);
      HttpResponse<byte[]> stored = cistern.get("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(medium));
      assertEquals(200, stored.statusCode());
      assertArrayEquals(medium, stored.body(), "with room again, blobs are cached again");
      readyz(cistern, 200);
    } finally {
      ((Logger) LoggerFactory.getLogger("io.cistern")).detachAppender(logs);
    }
    List<String> fullDisk = logs.list.stream().filter(event -> event.getLevel() == Level.ERROR)
        .map(ILoggingEvent::getFormattedMessage).filter(line -> line.contains("No space left on device")).toList();
    assertEquals(1, fullDisk.size(), "the cause is logged once while it lasts: " + fullDisk);
    assertFalse(logs.list.stream().anyMatch(event -> event.getLoggerName().endsWith("BlobDownload")),
        "nothing is logged as an upstream failure");
  }

  private TestCistern start(Path cache, URI upstreamUrl, URI heldUrl, String minFreeDisk) throws Exception {
    String held = heldUrl == null ? "" : """
          - host: held.test
            url: %s
        """.formatted(heldUrl);
    return TestCistern.fromYaml(temp.resolve("config"), """
        cache:
          directory: %s
          minFreeDisk: %s
        upstreams:
          - host: upstream.test
            url: %s
        %s""".formatted(cache, minFreeDisk, upstreamUrl, held));
  }

  /** Pulls an image as a client does, by tag, and checks every byte. */
  private static void pull(TestCistern cistern, String repository, TestImage image) throws Exception {
    HttpResponse<byte[]> manifest = cistern.get("/v2/" + repository + "/manifests/1.0", "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, manifest.statusCode(), new String(manifest.body()));
    assertArrayEquals(image.manifest().bytes(), manifest.body());
    for (TestImage.Blob blob : image.blobs()) {
      HttpResponse<byte[]> response = cistern.get("/v2/" + repository + "/blobs/" + blob.digest());
      assertEquals(200, response.statusCode());
      assertArrayEquals(blob.bytes(), response.body());
    }
  }

  /** A 507 with an OCI error body: a whole answer, no blob body begun. */
  private static void assertRefused(HttpResponse<byte[]> response) throws IOException {
    assertEquals(507, response.statusCode(), new String(response.body()));
    JsonNode error = JSON.readTree(response.body()).path("errors").path(0);
    assertEquals("UNAVAILABLE", error.path("code").asText());
    assertTrue(error.path("message").asText().contains("not cached"), error.toString());
    assertFalse(response.headers().firstValue("Docker-Content-Digest").isPresent());
  }

  private static long upstreamGets(CountingRelay relay, byte[] blob) {
    return relay.count("GET", path -> path.endsWith(Digest.sha256Of(blob).toString()));
  }

  private static void assertNoRangeRequests(CountingRelay relay) {
    assertFalse(relay.requests().stream().anyMatch(request -> request.hasHeader("Range")), "no Range re-fetch");
  }

  private static JsonNode readyz(TestCistern cistern, int expectedStatus) throws Exception {
    HttpResponse<String> response = cistern.admin("/readyz");
    assertEquals(expectedStatus, response.statusCode(), response.body());
    return JSON.readTree(response.body());
  }

  private static ListAppender<ILoggingEvent> capture(String loggerName) {
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    ((Logger) LoggerFactory.getLogger(loggerName)).addAppender(appender);
    return appender;
  }

  private static List<Path> partials(Path cache) throws IOException {
    try (Stream<Path> files = Files.walk(cache)) {
      return files.filter(file -> file.getFileName().toString().endsWith(".partial")).toList();
    }
  }

  private static byte[] random(long seed, int size) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
