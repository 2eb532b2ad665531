package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.BlobContent;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A cached blob leaves by sendfile in slices of at most {@link FileSlices#SLICE_BYTES}, in order
 * and covering exactly the range asked for, then the response's end; its file is closed once
 * they are out, and also when the connection fails half-way.
 */
class FileSlicesTest {

  private static final int SIZE = 3 * FileSlices.SLICE_BYTES + 1000;

  @TempDir
  Path temp;

  @Test
  void aRangeLeavesInBoundedSlicesInOrderThenTheEnd() throws IOException {
    FileChannel file = file();
    EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());

    ChannelFuture done = FileSlices.write(context(channel), region(file), 10, SIZE - 20);
    channel.runPendingTasks();

    long next = 10;
    Object message;
    while ((message = channel.readOutbound()) instanceof FileRegion slice) {
      assertEquals(next, slice.position(), "slices follow each other");
      assertTrue(slice.count() <= FileSlices.SLICE_BYTES, "a slice of " + slice.count() + " bytes");
      next += slice.count();
      slice.release();
    }
    assertEquals(SIZE - 10, next, "the slices cover the range exactly");
    assertInstanceOf(LastHttpContent.class, message);
    assertNull(channel.readOutbound());
    assertTrue(done.isSuccess());
    assertFalse(file.isOpen(), "the file is closed once the body is out");
  }

  @Test
  void anEmptyRangeIsJustTheEnd() throws IOException {
    FileChannel file = file();
    EmbeddedChannel channel = new EmbeddedChannel(new ChannelInboundHandlerAdapter());

    ChannelFuture done = FileSlices.write(context(channel), region(file), 0, 0);
    channel.runPendingTasks();

    assertInstanceOf(LastHttpContent.class, channel.readOutbound());
    assertNull(channel.readOutbound());
    assertTrue(done.isSuccess());
    assertFalse(file.isOpen());
  }

  @Test
  void aFailedSliceEndsTheBodyAndClosesTheFile() throws IOException {
    FileChannel file = file();
    EmbeddedChannel channel = new EmbeddedChannel(new FailSecondSlice(), new ChannelInboundHandlerAdapter());

    ChannelFuture done = FileSlices.write(context(channel), region(file), 0, SIZE);
    channel.runPendingTasks();

    FileRegion first = channel.readOutbound();
    assertEquals(0, first.position());
    first.release();
    assertNull(channel.readOutbound(), "nothing is sent after the failed slice");
    assertFalse(done.isSuccess());
    assertFalse(file.isOpen(), "the file is closed when the connection fails");
  }

  private static BlobContent.FileRegion region(FileChannel file) throws IOException {
    return new BlobContent.FileRegion(file, 0, file.size());
  }

  private FileChannel file() throws IOException {
    Path path = temp.resolve("blob");
    Files.write(path, new byte[SIZE]);
    return FileChannel.open(path, StandardOpenOption.READ);
  }

  private static ChannelHandlerContext context(EmbeddedChannel channel) {
    return channel.pipeline().lastContext();
  }

  /** Lets the first slice through and fails the second, as a connection lost mid-body would. */
  private static final class FailSecondSlice extends ChannelOutboundHandlerAdapter {
    private int slices;

    @Override
    public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
      if (message instanceof FileRegion region && ++slices == 2) {
        region.release();
        promise.setFailure(new IOException("connection reset"));
        return;
      }
      ctx.write(message, promise);
    }
  }
}
