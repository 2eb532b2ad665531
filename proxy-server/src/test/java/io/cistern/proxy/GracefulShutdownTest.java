package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.io.InputStream;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.Comparator;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A stop with a blob still downloading, held mid-body by a relay in front of a real upstream: it
 * either finishes within the grace (the client gets every byte, the blob is published) or is
 * aborted cleanly (the client's connection is cut, no temp file is left), and either way the
 * cache closes with a clean-stop marker.
 */
class GracefulShutdownTest {

  private static final int HELD_AFTER = 200_000;

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final TestImage image = TestImage.random(41, 1, 1_000_000, "amd64");
  private static TestImage.Blob layer;

  @BeforeAll
  static void start() throws Exception {
    upstream.push("team/big", "1.0", image);
    layer = image.blobs().stream().max(Comparator.comparingInt(blob -> blob.bytes().length)).orElseThrow();
  }

  @Test
  void aStopWaitsForTheDownloadUnderWayAndItsClientGetsEveryByte() throws Exception {
    Path directory = temp.resolve("finish");
    try (CountingRelay relay = CountingRelay.to(upstream.port())) {
      relay.holdAfter(HELD_AFTER);
      TestCistern cistern = cisternBehind(relay, directory, "60s");
      InputStream body = startBlobDownload(cistern);
      byte[] first = body.readNBytes(1000);

      CompletableFuture<Void> closing = CompletableFuture.runAsync(cistern::close);
      awaitReadyzStopping(cistern);
      assertFalse(closing.isDone(), "the stop waits while the download is held");

      relay.release();
      byte[] rest = body.readAllBytes();
      closing.get(60, TimeUnit.SECONDS);

      assertArrayEquals(layer.bytes(), concat(first, rest), "the client received the whole blob");
      Path stored = directory.resolve("cache/blobs/sha256").resolve(layer.digest().hex().substring(0, 2)).resolve(layer.digest().hex());
      assertArrayEquals(layer.bytes(), Files.readAllBytes(stored), "the finished download was published");
      assertTrue(Files.exists(directory.resolve("cache/clean-stop")), "metadata flushed and the stop marked clean");
      assertEquals(0, partialFiles(directory));
    }
  }

  @Test
  void aStopThatOutlastsItsGraceAbortsTheDownloadAndCutsItsClient() throws Exception {
    Path directory = temp.resolve("abort");
    try (CountingRelay relay = CountingRelay.to(upstream.port())) {
      relay.holdAfter(HELD_AFTER);
      TestCistern cistern = cisternBehind(relay, directory, "300ms");
      InputStream body = startBlobDownload(cistern);
      byte[] first = body.readNBytes(1000);

      cistern.close();

      byte[] received;
      try {
        received = concat(first, body.readAllBytes());
      } catch (IOException cut) {
        received = first;
      }
      assertTrue(received.length < layer.bytes().length, "the client never sees a complete-looking body");
      assertEquals(0, partialFiles(directory), "the aborted download's temp file is gone");
      assertFalse(Files.exists(directory.resolve("cache/blobs/sha256").resolve(layer.digest().hex().substring(0, 2))
          .resolve(layer.digest().hex())), "nothing was published");
      assertTrue(Files.exists(directory.resolve("cache/clean-stop")));
      assertEquals(0, cistern.cistern().cache().blobs().stats().reservedBytes(), "the aborted download gave its room back");
      relay.release();
    }
  }

  private static TestCistern cisternBehind(CountingRelay relay, Path directory, String grace) throws Exception {
    return TestCistern.fromYaml(directory, """
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            url: %s
        shutdown:
          grace: %s
        """.formatted(directory.resolve("cache"), relay.url(), grace));
  }

  /** Starts a GET of the layer; its headers come once the download has begun. */
  private static InputStream startBlobDownload(TestCistern cistern) throws Exception {
    HttpResponse<InputStream> response = HttpClient.newHttpClient().send(
        HttpRequest.newBuilder(cistern.url("/v2/team/big/blobs/" + layer.digest())).build(),
        HttpResponse.BodyHandlers.ofInputStream());
    assertEquals(200, response.statusCode());
    return response.body();
  }

  /** Asks /readyz until it reports the stop (each ask a real round trip; no sleeping). */
  private static void awaitReadyzStopping(TestCistern cistern) throws Exception {
    Instant deadline = Instant.now().plus(Duration.ofSeconds(30));
    while (Instant.now().isBefore(deadline)) {
      HttpResponse<String> readyz = cistern.admin("/readyz");
      if (readyz.statusCode() == 503) {
        assertTrue(readyz.body().contains("\"stopping\":true"), readyz.body());
        return;
      }
    }
    throw new AssertionError("/readyz never reported the stop");
  }

  private static long partialFiles(Path directory) throws IOException {
    try (Stream<Path> files = Files.walk(directory.resolve("cache"))) {
      return files.filter(file -> file.getFileName().toString().endsWith(".partial")).count();
    }
  }

  private static byte[] concat(byte[] first, byte[] rest) {
    byte[] all = new byte[first.length + rest.length];
    System.arraycopy(first, 0, all, 0, first.length);
    System.arraycopy(rest, 0, all, first.length, rest.length);
    return all;
  }
}
