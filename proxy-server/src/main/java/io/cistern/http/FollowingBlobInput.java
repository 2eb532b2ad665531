package io.cistern.http;

import io.cistern.cache.GrowingBlob;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.stream.ChunkedInput;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.concurrent.EventExecutor;
import java.io.IOException;
import java.nio.channels.FileChannel;

/**
 * Streams a byte range of a blob that is still downloading, reading the growing temp file at this
 * client's own pace, in chunks copied through memory: the way under TLS, which must encrypt them
 * (without TLS, {@link FollowingFileSlices} sends the same bytes by sendfile). {@link io.netty.handler.stream.ChunkedWriteHandler} pulls chunks only while
 * the socket is writable, so a slow client slows nobody else; when the reader catches up with the
 * download it returns no chunk and asks the blob to wake it (this blob only) when more is readable.
 *
 * <p>The blob's last byte waits for its verification (see {@link GrowingBlob#readableLimit}); a
 * range of unknown length ({@link #UNTIL_END}) ends, and its chunked terminator is sent, only once
 * the blob is verified. If the download fails before that, the next read throws and the
 * connection is closed before the response could look complete; a failure to store the blob
 * once verified does not concern this reader. (A download announced empty never gets here: it
 * is answered once stored.)
 *
 * <p>While it waits for the download, the connection is Cistern's to hold up, not idle
 * ({@link IdleConnectionCloser}): the download may be waiting out an upstream outage.
 */
final class FollowingBlobInput implements ChunkedInput<ByteBuf> {

  /** The end of a range whose size is not known yet: follow until the download ends. */
  static final long UNTIL_END = Long.MAX_VALUE - 1;
  private static final int CHUNK_SIZE = 64 * 1024;

  private final GrowingBlob blob;
  private final FileChannel channel;
  private final long first;
  private final long last;
  private final EventExecutor eventLoop;
  private final ChunkedWriteHandler writer;
  private final IdleConnectionCloser idle;
  private long position;
  private boolean wakeUpRequested;

  /**
   * @param eventLoop the connection's event loop, where every method of this input runs
   * @param writer the connection's chunked writer, resumed when more can be read
   * @param idle the connection's idle timeout, told while this input waits for the download
   */
  FollowingBlobInput(GrowingBlob blob, FileChannel channel, long first, long last,
      EventExecutor eventLoop, ChunkedWriteHandler writer, IdleConnectionCloser idle) {
    this.blob = blob;
    this.channel = channel;
    this.first = first;
    this.last = last;
    this.eventLoop = eventLoop;
    this.writer = writer;
    this.idle = idle;
    this.position = first;
  }

  @Override
  public boolean isEndOfInput() {
    if (position > last) {
      return true;
    }
    return last == UNTIL_END && blob.isVerified() && position >= blob.written();
  }

  @Override
  public ByteBuf readChunk(ByteBufAllocator allocator) throws IOException {
    if (isEndOfInput()) {
      return null;
    }
    if (blob.hasFailed()) {
      throw new IOException("the upstream download of " + blob.digest() + " failed");
    }
    long limit = blob.readableLimit(last);
    if (position >= limit) {
      requestWakeUp();
      return null;
    }
    int length = (int) Math.min(CHUNK_SIZE, limit - position);
    ByteBuf chunk = allocator.ioBuffer(length);
    try {
      int read = 0;
      while (read < length) {
        int n = chunk.writeBytes(channel, position + read, length - read);
        if (n < 0) {
          throw new IOException("temp file of " + blob.digest() + " is shorter than written");
        }
        read += n;
      }
    } catch (IOException | RuntimeException e) {
      chunk.release();
      throw e;
    }
    position += length;
    return chunk;
  }

  private void requestWakeUp() {
    if (wakeUpRequested) {
      return;
    }
    wakeUpRequested = true;
    idle.cisternWaiting();
    blob.awaitReadable(position, last).whenComplete((ignored, failure) -> eventLoop.execute(() -> {
      wakeUpRequested = false;
      idle.cisternResumed();
      writer.resumeTransfer();
    }));
  }

  @Override
  @Deprecated
  public ByteBuf readChunk(ChannelHandlerContext context) throws IOException {
    return readChunk(context.alloc());
  }

  @Override
  public void close() throws IOException {
    channel.close();
  }

  @Override
  public long length() {
    return last == UNTIL_END ? -1 : last - first + 1;
  }

  @Override
  public long progress() {
    return position - first;
  }
}
