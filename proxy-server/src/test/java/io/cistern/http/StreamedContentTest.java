package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.BlobContent;
import io.cistern.oci.Digest;
import io.cistern.proxy.BlobSource;
import io.cistern.testing.RawHttpConnection;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * Stored content that a tier streams instead of handing out a file ({@link BlobContent.Streamed}:
 * an object store's GET), served by the real registry listener: relayed as its buffers arrive on
 * the tier's own thread, whole or as a range, and cut off, never completed, when the stream fails
 * or ends short.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class StreamedContentTest {

  private static final int SIZE = 1 << 20;
  private static final int CHUNK = 16 * 1024;

  private final byte[] blob = new byte[SIZE];
  private final Digest digest;
  /** The stand-in tier's threads, where its streams deliver: never the event loop. */
  private final List<ExecutorService> tierThreads = new CopyOnWriteArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  // Completed when the server cancels the stream, which it may do just after the client has the last byte.
  private final CompletableFuture<Void> cancelled = new CompletableFuture<>();
  /** What the next GET is answered with. */
  private volatile BlobContent.Streamed next;
  private RegistryServer server;
  private int port;

  StreamedContentTest() {
    new Random(16).nextBytes(blob);
    digest = Digest.sha256Of(blob);
  }

  @BeforeEach
  void start() throws InterruptedException {
    server = new RegistryServer(exchange -> CompletableFuture.completedFuture(new Reply.Blob(digest, new BlobSource.Stored(next))),
        null, Duration.ofSeconds(30), served -> { }, Clock.systemUTC());
    port = server.start(new InetSocketAddress("127.0.0.1", 0)).getPort();
  }

  @AfterEach
  void stop() {
    server.close();
    tierThreads.forEach(ExecutorService::shutdownNow);
  }

  @Test
  void aStreamedBlobIsServedWhole() throws Exception {
    next = new BlobContent.Streamed(SIZE, stream(SIZE, false));

    HttpResponse<byte[]> response = get();

    assertEquals(200, response.statusCode());
    assertEquals(String.valueOf(SIZE), response.headers().firstValue("Content-Length").orElseThrow());
    assertEquals(digest.toString(), response.headers().firstValue("Docker-Content-Digest").orElseThrow());
    assertArrayEquals(blob, response.body());
  }

  @Test
  void aRangeOfAStreamedBlobSkipsToItsStartAndStopsTheStreamAtItsEnd() throws Exception {
    next = new BlobContent.Streamed(SIZE, stream(SIZE, false));

    HttpResponse<byte[]> response = get("Range", "bytes=100000-299999");

    assertEquals(206, response.statusCode());
    assertEquals("bytes 100000-299999/" + SIZE, response.headers().firstValue("Content-Range").orElseThrow());
    assertArrayEquals(Arrays.copyOfRange(blob, 100_000, 300_000), response.body());
    cancelled.get(30, TimeUnit.SECONDS); // the rest of the stream is not read: the stream is cancelled

    next = new BlobContent.Streamed(SIZE, stream(SIZE, false));
    assertArrayEquals(Arrays.copyOfRange(blob, SIZE - 10, SIZE), get("Range", "bytes=-10").body(), "a suffix range");
  }

  @Test
  void aStreamThatFailsCutsTheResponseShortOfItsLength() throws Exception {
    next = new BlobContent.Streamed(SIZE, stream(SIZE / 4, true));
    assertCutShort(SIZE / 4);
  }

  @Test
  void aStreamThatEndsShortCutsTheResponseShortOfItsLength() throws Exception {
    next = new BlobContent.Streamed(SIZE, stream(SIZE / 2, false));
    assertCutShort(SIZE / 2);
  }

  private void assertCutShort(int delivered) throws IOException {
    try (RawHttpConnection connection = RawHttpConnection.open(port, 0)) {
      connection.send("GET", "/v2/team/app/blobs/" + digest);
      RawHttpConnection.Head head = connection.readHead();
      assertEquals(200, head.status());
      assertEquals(SIZE, head.contentLength());
      byte[] body = connection.readUpTo(SIZE);
      assertEquals(delivered, body.length, "what the stream gave, and no more");
      assertTrue(connection.awaitClose(Duration.ofSeconds(30)), "the connection is closed: the body never looks complete");
    }
  }

  private HttpResponse<byte[]> get(String... headers) throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/v2/team/app/blobs/" + digest));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /**
   * The blob's first {@code delivered} bytes as a tier would stream them: from a thread of the
   * tier's own, one buffer per item asked for. Then the stream completes, or, when
   * {@code fails}, fails, as a dropped connection to an object store would.
   */
  private Flow.Publisher<ByteBuffer> stream(int delivered, boolean fails) {
    return subscriber -> {
      ExecutorService tierThread = Executors.newSingleThreadExecutor();
      tierThreads.add(tierThread);
      subscriber.onSubscribe(new Flow.Subscription() {
        private int position;
        private boolean done;

        @Override
        public void request(long n) {
          tierThread.execute(() -> {
            for (long i = 0; i < n && !done; i++) {
              if (position == delivered) {
                done = true;
                if (fails) {
                  subscriber.onError(new IOException("the tier's connection was reset"));
                } else {
                  subscriber.onComplete();
                }
                return;
              }
              int count = Math.min(CHUNK, delivered - position);
              ByteBuffer chunk = ByteBuffer.wrap(blob, position, count).slice();
              position += count;
              subscriber.onNext(chunk);
            }
          });
        }

        @Override
        public void cancel() {
          cancelled.complete(null);
          tierThread.execute(() -> done = true);
        }
      });
    };
  }
}
