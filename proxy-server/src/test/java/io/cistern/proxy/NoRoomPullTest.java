package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.Digest;
import io.cistern.testing.BlobStream;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Pulls through a Cistern whose byte cap cannot take a blob, from a real Distribution behind
 * {@link CountingRelay}s: the cache's refusals of room reach the client as OCI errors before any
 * header of a body. A blob larger than the whole cap is a 507 at once; one that waits for room
 * held by a download under way, and finds none within {@code cache.reservationTimeout}, is a 503
 * with {@code Retry-After}, and is served once the room is free again.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class NoRoomPullTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final int MIB = 1 << 20;
  private static final String BLOBS = "team/blobs";

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final byte[] holder = random(61, 2 * MIB);
  private static final byte[] waiting = random(62, 2 * MIB);
  private static final byte[] huge = random(63, 5 * MIB);

  @TempDir
  Path temp;

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void seed() throws Exception {
    upstream.pushBlob(BLOBS, holder);
    upstream.pushBlob(BLOBS, waiting);
    upstream.pushBlob(BLOBS, huge);
  }

  @Test
  void aBlobLargerThanTheWholeCacheIs507() throws Exception {
    try (CountingRelay relay = CountingRelay.to(upstream.port());
         CountingRelay held = CountingRelay.to(upstream.port());
         TestCistern cistern = start(relay, held)) {
      HttpResponse<byte[]> response = cistern.get("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(huge));

      JsonNode error = error(response, 507);
      assertTrue(error.path("message").asText().contains("larger than the whole cache"), error.toString());
      assertFalse(cistern.cistern().cache().blobs().contains(Digest.sha256Of(huge)));
    }
  }

  @Test
  void aDownloadThatFindsNoRoomInTimeIs503WithRetryAfterAndIsServedOnceThereIsRoom() throws Exception {
    try (CountingRelay relay = CountingRelay.to(upstream.port());
         CountingRelay held = CountingRelay.to(upstream.port());
         TestCistern cistern = start(relay, held)) {
      // The holder's download claims 2 of the 3 MiB, then stalls until released.
      held.holdAfter(256 * 1024);
      BlobStream holding = CompletableFuture.supplyAsync(() -> BlobStream.open(http,
          cistern.url("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(holder) + "?ns=held.test"))).get(60, TimeUnit.SECONDS);
      assertEquals(200, holding.status());

      HttpResponse<byte[]> refused = cistern.get("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(waiting));
      JsonNode error = error(refused, 503);
      assertTrue(error.path("message").asText().contains("no room"), error.toString());
      assertEquals("1", refused.headers().firstValue("Retry-After").orElseThrow(), "as long as it waited");

      held.release();
      assertArrayEquals(holder, holding.finish(), "the download that held the room completes");
      HttpResponse<byte[]> served = cistern.get("/v2/" + BLOBS + "/blobs/" + Digest.sha256Of(waiting));
      assertEquals(200, served.statusCode());
      assertArrayEquals(waiting, served.body(), "with room again (the holder evicted), it is served");
    }
  }

  private TestCistern start(CountingRelay relay, CountingRelay held) throws Exception {
    return TestCistern.fromYaml(temp.resolve("config"), """
        cache:
          directory: %s
          maxBytes: 3MiB
          reservationTimeout: 1s
        upstreams:
          - host: upstream.test
            url: %s
          - host: held.test
            url: %s
        """.formatted(temp.resolve("cache"), relay.url(), held.url()));
  }

  /** An OCI error of {@code status} with no blob body begun; its first error. */
  private static JsonNode error(HttpResponse<byte[]> response, int status) throws Exception {
    assertEquals(status, response.statusCode(), new String(response.body()));
    assertFalse(response.headers().firstValue("Docker-Content-Digest").isPresent());
    JsonNode error = JSON.readTree(response.body()).path("errors").path(0);
    assertEquals("UNAVAILABLE", error.path("code").asText());
    return error;
  }

  private static byte[] random(long seed, int size) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
