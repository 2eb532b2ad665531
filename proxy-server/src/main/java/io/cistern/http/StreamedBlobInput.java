package io.cistern.http;

import io.cistern.cache.BlobContent;
import io.cistern.oci.Digest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.stream.ChunkedInput;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;

/**
 * Relays a byte range of content that comes as a stream ({@link BlobContent.Streamed}): stored
 * content a tier streams rather than hands out as a file (an object store's GET), or a range
 * relayed from the upstream ({@link io.cistern.proxy.RangeRelay}). One buffer is asked of the stream at a
 * time, and the next only once the last was handed to the socket, which
 * {@link ChunkedWriteHandler} does only while the socket is writable: a slow client slows its own
 * stream, and holds at most one buffer.
 *
 * <p>The content is the whole blob; the bytes before {@code first} are skipped, and the stream is
 * cancelled once {@code length} bytes are sent. A stream that fails or ends short makes the next
 * read throw, and the connection is closed before the response could look complete.
 *
 * <p>Threads: the stream's signals arrive on its own thread; they only queue what came and wake
 * the connection's event loop, where every other method runs.
 */
final class StreamedBlobInput implements ChunkedInput<ByteBuf>, Flow.Subscriber<ByteBuffer> {

  private final BlobContent.Streamed content;
  private final Digest digest;
  private final long first;
  private final long length;
  private final EventExecutor eventLoop;
  private final ChunkedWriteHandler writer;
  private final IdleConnectionCloser idle;
  private final Queue<ByteBuffer> arrived = new ConcurrentLinkedQueue<>();
  private volatile Flow.Subscription subscription;
  private volatile Throwable failure;
  private volatile boolean ended;
  private boolean subscribed;
  private boolean waiting;
  private long skipped;
  private long sent;

  /**
   * @param eventLoop the connection's event loop, where every method of the input runs
   * @param writer the connection's chunked writer, resumed when the stream delivers
   * @param idle the connection's idle timeout, told while this input waits for the stream
   */
  StreamedBlobInput(BlobContent.Streamed content, Digest digest, long first, long length, EventExecutor eventLoop,
      ChunkedWriteHandler writer, IdleConnectionCloser idle) {
    this.content = content;
    this.digest = digest;
    this.first = first;
    this.length = length;
    this.eventLoop = eventLoop;
    this.writer = writer;
    this.idle = idle;
  }

  @Override
  public boolean isEndOfInput() {
    return sent == length;
  }

  @Override
  public ByteBuf readChunk(ByteBufAllocator allocator) throws IOException {
    if (isEndOfInput()) {
      return null;
    }
    if (!subscribed) {
      subscribed = true;
      content.publisher().subscribe(this);
    }
    while (true) {
      ByteBuffer next = arrived.poll();
      if (next == null) {
        if (failure != null) {
          throw new IOException("the streamed content of " + digest + " failed after " + sent + " bytes", failure);
        }
        if (ended) {
          throw new IOException("the streamed content of " + digest + " ended " + (length - sent) + " bytes short");
        }
        if (!waiting) {
          waiting = true;
          idle.cisternWaiting();
        }
        return null;
      }
      if (skipped < first) {
        int skip = (int) Math.min(first - skipped, next.remaining());
        next.position(next.position() + skip);
        skipped += skip;
      }
      if (!next.hasRemaining()) {
        subscription.request(1);
        continue;
      }
      if (next.remaining() > length - sent) {
        next.limit(next.position() + (int) (length - sent));
      }
      sent += next.remaining();
      ByteBuf chunk = Unpooled.wrappedBuffer(next);
      if (sent < length) {
        subscription.request(1);
      }
      return chunk;
    }
  }

  @Override
  @Deprecated
  public ByteBuf readChunk(ChannelHandlerContext context) throws IOException {
    return readChunk(context.alloc());
  }

  @Override
  public void close() {
    Flow.Subscription current = subscription;
    if (current != null) {
      current.cancel();
    } else if (!subscribed) {
      content.close();
    }
  }

  @Override
  public long length() {
    return length;
  }

  @Override
  public long progress() {
    return sent;
  }

  // ---- the stream's signals: on its thread ----

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    subscription.request(1);
  }

  @Override
  public void onNext(ByteBuffer buffer) {
    arrived.add(buffer);
    wake();
  }

  @Override
  public void onError(Throwable throwable) {
    failure = throwable;
    wake();
  }

  @Override
  public void onComplete() {
    ended = true;
    wake();
  }

  private void wake() {
    try {
      eventLoop.execute(() -> {
        if (waiting) {
          waiting = false;
          idle.cisternResumed();
        }
        writer.resumeTransfer();
      });
    } catch (RejectedExecutionException stopping) {
      // The event loop is shutting down, and the connection with it.
    }
  }
}
