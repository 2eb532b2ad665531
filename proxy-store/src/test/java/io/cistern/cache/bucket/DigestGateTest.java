package io.cistern.cache.bucket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;

import io.cistern.cache.ContentMismatchException;
import io.cistern.oci.Digest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Flow;
import org.junit.jupiter.api.Test;

/** The gate on its own: what it lets through before it knows the digest, and what it holds back. */
class DigestGateTest {

  private final byte[] content = "0123456789abcdefghij".getBytes(java.nio.charset.StandardCharsets.US_ASCII);
  private final Digest digest = Digest.sha256Of(content);

  @Test
  void rightBytesPassThroughWhole() {
    Recorder recorder = run(content, digest, content.length);

    assertArrayEquals(content, recorder.bytes());
    assertEquals(true, recorder.completed);
    assertNull(recorder.error);
  }

  @Test
  void wrongBytesNeverDeliverTheBufferThatCompletesTheSize() {
    byte[] corrupt = content.clone();
    corrupt[3] ^= 1;

    Recorder recorder = run(corrupt, digest, content.length);

    assertEquals(content.length - 4, recorder.bytes().length, "all but the last 4-byte buffer");
    assertEquals(false, recorder.completed);
    assertInstanceOf(ContentMismatchException.class, recorder.error.getCause());
  }

  @Test
  void shortAndLongStreamsFail() {
    Recorder shortStream = run(java.util.Arrays.copyOf(content, 16), digest, content.length);
    Recorder longStream = run(java.util.Arrays.copyOf(content, 24), digest, content.length);

    assertInstanceOf(ContentMismatchException.class, shortStream.error.getCause());
    assertInstanceOf(ContentMismatchException.class, longStream.error.getCause());
    assertArrayEquals(content, longStream.bytes(), "never more than the blob: what overshoots is not delivered");
  }

  private static Recorder run(byte[] bytes, Digest digest, long size) {
    Recorder recorder = new Recorder();
    new DigestGate(Bodies.of(bytes, 4), digest, size).subscribe(recorder);
    return recorder;
  }

  /** Takes everything at once and writes down what arrived; the JDK publisher delivers synchronously. */
  private static final class Recorder implements Flow.Subscriber<ByteBuffer> {
    final List<byte[]> buffers = new ArrayList<>();
    boolean completed;
    Throwable error;

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      subscription.request(Long.MAX_VALUE);
    }

    @Override
    public void onNext(ByteBuffer buffer) {
      byte[] piece = new byte[buffer.remaining()];
      buffer.get(piece);
      buffers.add(piece);
    }

    @Override
    public void onError(Throwable throwable) {
      error = throwable;
    }

    @Override
    public void onComplete() {
      completed = true;
    }

    byte[] bytes() {
      java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream();
      buffers.forEach(out::writeBytes);
      return out.toByteArray();
    }
  }
}
