package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.FullSpeedStreams;
import io.cistern.testing.RawHttpConnection;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A busy server still greets newcomers. While hundreds of clients pull a big cached blob as fast
 * as they can read, so that every connection loop is busy writing, a new client is accepted and
 * pulls a small cached image ({@code /v2/}, its manifest, config and layer) before any of those
 * streams has ended; and the streams share the loops in turns, so none of them ends before every
 * one is well into its body; the admin port answers meanwhile. What is checked is the order of
 * those events, never a duration.
 * The upstream is a real Distribution.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class AcceptUnderLoadTest {

  private static final int STREAMS = 256;
  /** Enough reading threads that the clients outpace the server, whose loops are then always busy. */
  private static final int READERS = 16;
  /** Large against how far a stream gets while the newcomer pulls (about 2 MiB on 2 cores). */
  private static final int BLOB_BYTES = 32 << 20;
  private static final long MID_BODY = 512 << 10;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final byte[] blob = random(BLOB_BYTES);
  private static final Digest digest = Digest.sha256Of(blob);
  private static final TestImage image = TestImage.random(13, 1, 1024, "amd64");

  @BeforeAll
  static void seed() throws Exception {
    upstream.pushBlob("big/layer", blob);
    upstream.push("small/image", "1", image);
  }

  @Test
  void aNewClientPullsASmallImageWhileHundredsOfStreamsAreMidBody(@TempDir Path temp) throws Exception {
    String blobPath = "/v2/big/layer/blobs/" + digest;
    try (TestCistern cistern = TestCistern.forUpstream(temp, upstream.url())) {
      assertEquals(BLOB_BYTES, cistern.get(blobPath).body().length, "the blob is cached");
      for (TestImage.Blob content : smallImage()) {
        assertEquals(200, cistern.get(path(content), "Accept", MediaTypes.OCI_MANIFEST).statusCode(), "the small image is cached");
      }

      FullSpeedStreams streams = FullSpeedStreams.start(cistern.port(), blobPath, STREAMS, READERS, MID_BODY);
      try {
        streams.allMidBody().join();
        assertEquals(0, streams.ended(), "streams that ended before every stream was well into its body; "
            + progress(streams.received()));

        try (RawHttpConnection newcomer = RawHttpConnection.open(cistern.port(), 0)) {
          newcomer.send("GET", "/v2/");
          RawHttpConnection.Head base = newcomer.readHead();
          newcomer.readUpTo(base.contentLength());
          assertEquals(200, base.status());
          for (TestImage.Blob content : smallImage()) {
            newcomer.send("GET", path(content), "Accept", MediaTypes.OCI_MANIFEST);
            RawHttpConnection.Head head = newcomer.readHead();
            assertEquals(200, head.status());
            assertArrayEquals(content.bytes(), newcomer.readUpTo(head.contentLength()));
          }
        }
        assertEquals(200, cistern.admin("/healthz").statusCode(), "the admin port answers too");
        assertEquals(0, streams.ended(), "streams that ended before the newcomer's pull was answered; " + progress(streams.received()));
        assertNull(streams.failure(), "no stream was cut or refused");
      } finally {
        streams.close();
      }
    }
  }

  /** What a client pulling the small image asks for after {@code /v2/}: its manifest, then its config and layer. */
  private static List<TestImage.Blob> smallImage() {
    List<TestImage.Blob> all = new ArrayList<>();
    all.add(image.manifest());
    all.addAll(image.blobs());
    return all;
  }

  private static String path(TestImage.Blob content) {
    return "/v2/small/image/" + (content == image.manifest() ? "manifests/" : "blobs/") + content.digest();
  }

  private static String progress(long[] received) {
    long[] sorted = received.clone();
    Arrays.sort(sorted);
    return "received of %d MiB: least %d KiB, median %d KiB, most %d KiB".formatted(BLOB_BYTES >> 20,
        sorted[0] >> 10, sorted[sorted.length / 2] >> 10, sorted[sorted.length - 1] >> 10);
  }

  private static byte[] random(int size) {
    byte[] bytes = new byte[size];
    new Random(13).nextBytes(bytes);
    return bytes;
  }
}
