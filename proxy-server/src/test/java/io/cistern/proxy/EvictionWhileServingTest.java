package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.BlobCache;
import io.cistern.oci.Digest;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A client reading a cached blob slowly through Cistern keeps getting it, byte-exact, while the
 * evictor unlinks that blob to make room for another pull: the response streams from the file
 * channel opened when the request arrived, which survives the unlink.
 */
class EvictionWhileServingTest {

  private static final int MIB = 1 << 20;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @TempDir
  Path temp;

  @Test
  void aSlowClientIsServedTheWholeBlobAfterItWasEvictedUnderIt() throws Exception {
    Random random = new Random(42);
    byte[] slow = new byte[32 * MIB];
    byte[] next = new byte[20 * MIB];
    random.nextBytes(slow);
    random.nextBytes(next);
    Digest slowDigest = Digest.sha256Of(slow);
    Digest nextDigest = Digest.sha256Of(next);

    upstream.pushBlob("team/big", slow);
    upstream.pushBlob("team/big", next);
    try (TestCistern cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %s
          maxBytes: 48MiB
          lowWaterFraction: 0.9
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(temp.resolve("cistern/cache"), upstream.url()))) {
      BlobCache cache = cistern.cistern().cache().blobs();
      assertEquals(200, cistern.get("/v2/team/big/blobs/" + slowDigest).statusCode(), "pulled once: now cached");
      cistern.awaitDownloadsStored();
      assertTrue(cache.contains(slowDigest));

      try (Socket client = new Socket()) {
        // A small window: the server can be at most a few buffers ahead of what we read.
        client.setReceiveBufferSize(16 * 1024);
        client.connect(new InetSocketAddress("127.0.0.1", cistern.port()));
        OutputStream request = client.getOutputStream();
        request.write(("GET /v2/team/big/blobs/" + slowDigest + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            .getBytes(StandardCharsets.US_ASCII));
        request.flush();
        InputStream response = client.getInputStream();
        long length = contentLength(readHeaders(response));
        assertEquals(slow.length, length);
        MessageDigest received = MessageDigest.getInstance("SHA-256");
        long read = readInto(response, received, MIB);

        CompletableFuture<Void> slowEvicted = new CompletableFuture<>();
        cache.onEviction(evicted -> {
          if (evicted.contains(slowDigest)) {
            slowEvicted.complete(null);
          }
        });
        HttpResponse<byte[]> other = cistern.get("/v2/team/big/blobs/" + nextDigest);
        assertEquals(200, other.statusCode());
        // Told once its row and file are gone; a bound, not a wait: without the eviction this fails.
        slowEvicted.get(1, TimeUnit.MINUTES);
        assertFalse(Files.exists(cache.pathOf(slowDigest)), "the slow client's blob was evicted to make room");
        cistern.awaitDownloadsStored();
        assertTrue(cache.contains(nextDigest));

        read += readInto(response, received, length - read);
        assertEquals(slow.length, read);
        assertEquals(slowDigest, Digest.parse("sha256:" + HexFormat.of().formatHex(received.digest())), "every byte arrived, unchanged");
      }
    }
  }

  private static String readHeaders(InputStream in) throws IOException {
    ByteArrayOutputStream headers = new ByteArrayOutputStream();
    int matched = 0;
    byte[] end = {'\r', '\n', '\r', '\n'};
    while (matched < end.length) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed inside the headers: " + headers);
      }
      headers.write(b);
      matched = b == end[matched] ? matched + 1 : (b == end[0] ? 1 : 0);
    }
    String text = headers.toString(StandardCharsets.US_ASCII);
    assertTrue(text.startsWith("HTTP/1.1 200"), text);
    return text;
  }

  private static long contentLength(String headers) {
    for (String line : headers.split("\r\n")) {
      if (line.toLowerCase(Locale.ROOT).startsWith("content-length:")) {
        return Long.parseLong(line.substring(line.indexOf(':') + 1).trim());
      }
    }
    throw new AssertionError("no Content-Length in " + headers);
  }

  private static long readInto(InputStream in, MessageDigest digest, long count) throws IOException {
    byte[] buffer = new byte[64 * 1024];
    long total = 0;
    while (total < count) {
      int n = in.read(buffer, 0, (int) Math.min(buffer.length, count - total));
      if (n < 0) {
        break;
      }
      digest.update(buffer, 0, n);
      total += n;
    }
    return total;
  }
}
