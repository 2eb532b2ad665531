package io.cistern.http;

import io.cistern.cache.BlobContent;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.DefaultFileRegion;
import io.netty.handler.codec.http.LastHttpContent;
import java.nio.channels.FileChannel;

/**
 * A response body sent from a file by sendfile, in slices: each slice is handed to the channel
 * once the one before has gone out, then the end of the response. Netty gives a file region to
 * one sendfile call, and the kernel moves as much as the socket will take, several MiB to a
 * client that reads fast; with one write call per turn ({@link RegistryServer}), a slice bounds
 * how long one stream holds its event loop while the loop's other connections wait.
 */
final class FileSlices {

  /** Large enough that a slice costs far more than the turn around it, small enough to pass the turn often. */
  static final int SLICE_BYTES = 256 * 1024;

  private FileSlices() {}

  /**
   * Writes {@code count} bytes of {@code content} from {@code offset} (into the region), then the
   * last HTTP content; the content is closed once they are out or the connection has failed.
   */
  static ChannelFuture write(ChannelHandlerContext ctx, BlobContent.FileRegion content, long offset, long count) {
    ChannelPromise done = ctx.newPromise();
    done.addListener(ended -> content.close());
    long position = content.position() + offset;
    writeFrom(ctx, content.channel(), position, position + count, done);
    return done;
  }

  private static void writeFrom(ChannelHandlerContext ctx, FileChannel file, long position, long end, ChannelPromise done) {
    if (position == end) {
      ctx.writeAndFlush(LastHttpContent.EMPTY_LAST_CONTENT, done);
      return;
    }
    long length = Math.min(SLICE_BYTES, end - position);
    ctx.writeAndFlush(new Slice(file, position, length)).addListener(written -> {
      if (written.isSuccess()) {
        writeFrom(ctx, file, position + length, end, done);
      } else {
        done.tryFailure(written.cause());
      }
    });
  }

  /** One slice of a file that outlives it: releasing the slice leaves the file open. */
  static final class Slice extends DefaultFileRegion {

    Slice(FileChannel file, long position, long count) {
      super(file, position, count);
    }

    @Override
    protected void deallocate() {
      // The file is closed once, by whoever wrote the slices, after the last one.
    }
  }
}
