package io.cistern.http;

import io.cistern.cache.GrowingBlob;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.FileChannel;
import java.util.concurrent.RejectedExecutionException;

/**
 * A byte range of a blob that is still downloading, sent by sendfile from its temp file as the
 * download writes it: the zero-copy way of following a download, for connections without TLS
 * ({@link FollowingBlobInput} copies, as TLS must). Each slice is cut when the one before has gone
 * out, from what is readable then, up to {@link FileSlices#SLICE_BYTES}; a client that reads fast
 * sends what the download wrote in a few sendfile calls, and a slow one holds one slice, no
 * memory, and never holds up the download or another client. One that has caught up with the
 * download waits on the blob's own future ({@link GrowingBlob#awaitReadable}), which wakes it on
 * its event loop.
 *
 * <p>The guarantees are the copying path's: a slice never reaches past
 * {@link GrowingBlob#readableLimit}, so a response that ends at the blob's last byte sends it only
 * once the blob is verified, and one of unknown length ({@link FollowingBlobInput#UNTIL_END}) sends
 * its end (the chunked terminator) only then. If the download fails before that, the body ends in
 * a failure instead of its end, and the connection is closed ({@link RegistryHandler}) before the
 * response could look complete.
 *
 * <p>Every method runs on the connection's event loop: the wake-up hops there, and a slice's
 * listener runs there.
 */
final class FollowingFileSlices {

  private final ChannelHandlerContext ctx;
  private final GrowingBlob blob;
  private final FileChannel file;
  private final long last;
  private final IdleConnectionCloser idle;
  private final ChannelPromise done;
  private long position;

  private FollowingFileSlices(ChannelHandlerContext ctx, GrowingBlob blob, FileChannel file, long first, long last,
      IdleConnectionCloser idle) {
    this.ctx = ctx;
    this.blob = blob;
    this.file = file;
    this.last = last;
    this.idle = idle;
    this.done = ctx.newPromise();
    this.position = first;
  }

  /**
   * Writes bytes {@code first} to {@code last} (inclusive, or {@link FollowingBlobInput#UNTIL_END})
   * of the downloading blob as they become readable, then the last HTTP content. {@code file} (on
   * the blob) is closed once they are out, the download failed, or the connection closed.
   *
   * @param idle the connection's idle timeout, told while the body waits for the download
   */
  static ChannelFuture write(ChannelHandlerContext ctx, GrowingBlob blob, FileChannel file, long first, long last,
      IdleConnectionCloser idle) {
    FollowingFileSlices body = new FollowingFileSlices(ctx, blob, file, first, last, idle);
    // A connection that closes while the body waits for the download ends it now, rather than at
    // the download's next wake-up: the file is closed at once.
    ChannelFutureListener closed = ignored -> body.done.tryFailure(new ClosedChannelException());
    ctx.channel().closeFuture().addListener(closed);
    body.done.addListener(ended -> {
      ctx.channel().closeFuture().removeListener(closed);
      closeQuietly(file);
    });
    body.next();
    return body.done;
  }

  private void next() {
    if (done.isDone()) {
      return;
    }
    if (position > last || last == FollowingBlobInput.UNTIL_END && blob.isVerified() && position >= blob.written()) {
      ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, done);
      return;
    }
    if (blob.hasFailed()) {
      done.tryFailure(new IOException("the upstream download of " + blob.digest() + " failed"));
      return;
    }
    long limit = blob.readableLimit(last);
    if (position >= limit) {
      awaitDownload();
      return;
    }
    long from = position;
    long length = Math.min(FileSlices.SLICE_BYTES, limit - from);
    position = from + length;
    ctx.writeAndFlush(new FileSlices.Slice(file, from, length)).addListener(written -> {
      if (written.isSuccess()) {
        next();
      } else {
        done.tryFailure(written.cause());
      }
    });
  }

  /** Waits, on this blob's future, until more can be sent or the download has ended. */
  private void awaitDownload() {
    idle.cisternWaiting();
    blob.awaitReadable(position, last).whenComplete((ignored, failure) -> {
      try {
        ctx.executor().execute(() -> {
          idle.cisternResumed();
          next();
        });
      } catch (RejectedExecutionException stopping) {
        // The event loop is shutting down, and the connection with it.
      }
    });
  }

  private static void closeQuietly(FileChannel file) {
    try {
      file.close();
    } catch (IOException e) {
      // Only read from: nothing of it is lost.
    }
  }
}
