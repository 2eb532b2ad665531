package io.cistern.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A stored blob's bytes, or a range of them, as a tier of storage hands them out. The local disk
 * gives a region of an open file, which the HTTP front sends with sendfile; a tier with no file to
 * give (an object store) gives a stream of buffers of known length, which is relayed as it comes.
 * Whoever receives content owns it and closes it; content handed out stays readable whatever
 * happens to the blob in its tier afterwards (an eviction, a delete).
 */
public sealed interface BlobContent extends AutoCloseable permits BlobContent.FileRegion, BlobContent.Streamed {

  /** How many bytes this content carries. */
  long length();

  /**
   * The bytes as a stream, for a receiver that does not serve a file (an upload to another tier,
   * a copy). A file region's stream reads the file as the subscriber asks, and can be subscribed
   * again; a streamed content's can be taken once.
   */
  Flow.Publisher<ByteBuffer> publisher();

  /** Releases what holds the bytes (the file, the connection); the bytes are not needed any more. */
  @Override
  void close();

  /**
   * {@code length} bytes of an open file from {@code position}. The channel stays readable after
   * the file is unlinked (an eviction), and is closed with the content.
   */
  record FileRegion(FileChannel channel, long position, long length) implements BlobContent {

    @Override
    public Flow.Publisher<ByteBuffer> publisher() {
      return new PulledPublisher(length, (offset, bytes) -> {
        ByteBuffer chunk = ByteBuffer.allocate(bytes);
        while (chunk.hasRemaining()) {
          if (channel.read(chunk, position + offset + chunk.position()) < 0) {
            throw new IOException("the file ends " + (offset + chunk.position()) + " bytes into a region of " + length);
          }
        }
        return chunk.flip();
      });
    }

    @Override
    public void close() {
      try {
        channel.close();
      } catch (IOException ignored) {
        // Only read through: closing it loses nothing.
      }
    }
  }

  /**
   * {@code length} bytes that arrive as {@code body} publishes them, from a tier that streams
   * (an object store's GET). The body is subscribed once: by whoever takes {@link #publisher},
   * or, if no one did, by {@link #close}, which cancels it at once so that what holds it (a
   * connection) is let go.
   */
  final class Streamed implements BlobContent {

    private final long length;
    private final Flow.Publisher<ByteBuffer> body;
    private final AtomicBoolean taken = new AtomicBoolean();

    public Streamed(long length, Flow.Publisher<ByteBuffer> body) {
      if (length < 0) {
        throw new IllegalArgumentException("content has a length of at least 0, not " + length);
      }
      this.length = length;
      this.body = body;
    }

    @Override
    public long length() {
      return length;
    }

    /** @throws IllegalStateException when the body was taken (or closed) already */
    @Override
    public Flow.Publisher<ByteBuffer> publisher() {
      if (!taken.compareAndSet(false, true)) {
        throw new IllegalStateException("a streamed body is subscribed once");
      }
      return body;
    }

    @Override
    public void close() {
      if (taken.compareAndSet(false, true)) {
        body.subscribe(new Flow.Subscriber<>() {
          @Override
          public void onSubscribe(Flow.Subscription subscription) {
            subscription.cancel();
          }

          @Override
          public void onNext(ByteBuffer item) {
            // Cancelled at once: nothing is wanted.
          }

          @Override
          public void onError(Throwable throwable) {
            // Nothing was wanted from it.
          }

          @Override
          public void onComplete() {
            // Nothing was wanted from it.
          }
        });
      }
    }
  }
}
