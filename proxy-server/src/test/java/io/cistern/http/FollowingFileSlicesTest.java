package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.BlobCache;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import io.cistern.cache.GrowingBlob;
import io.cistern.cache.Ingest;
import io.cistern.oci.Digest;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.LastHttpContent;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.channels.WritableByteChannel;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A blob still downloading leaves by sendfile: every piece of its body is a file region of the
 * temp file (no copy through memory), in slices of at most {@link FileSlices#SLICE_BYTES}, never
 * beyond what the download has written, and the blob's last byte (or a body of unknown length's
 * end) only once the blob is verified; a download that fails ends the body without its end, and
 * the file is closed however the body ends.
 */
class FollowingFileSlicesTest {

  private static final int SIZE = 3 * FileSlices.SLICE_BYTES + 1000;

  @TempDir
  Path directory;

  private CacheDirectory opened;
  private BlobCache cache;
  private final byte[] content = random(SIZE);
  private final Digest digest = Digest.sha256Of(content);
  private final ByteArrayOutputStream received = new ByteArrayOutputStream();
  private final EmbeddedChannel channel = new EmbeddedChannel(new ReadRegions(received), new ChannelInboundHandlerAdapter());
  private final IdleConnectionCloser idle = new IdleConnectionCloser(Duration.ofMinutes(1));

  @BeforeEach
  void open() {
    opened = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC());
    cache = opened.blobs();
  }

  @AfterEach
  void close() {
    channel.finishAndReleaseAll();
    opened.close();
  }

  @Test
  void theWholeBlobLeavesAsFileRegionsAsItIsWrittenAndItsLastByteOnceVerified() throws IOException {
    Ingest ingest = cache.ingest(digest, SIZE).join();
    GrowingBlob blob = ingest.followers();
    ingest.append(ByteBuffer.wrap(content, 0, 2 * FileSlices.SLICE_BYTES + 10));
    FileChannel file = blob.openForReading();

    ChannelFuture done = FollowingFileSlices.write(context(), blob, file, 0, SIZE - 1, idle);
    assertNull(drainRegions(), "no end while the download runs");
    assertEquals(2 * FileSlices.SLICE_BYTES + 10, received.size(), "what was written, and no more");

    ingest.append(ByteBuffer.wrap(content, received.size(), SIZE - received.size()));
    assertNull(drainRegions());
    assertEquals(SIZE - 1, received.size(), "all but the last byte, which waits for the digest");
    assertFalse(done.isDone());

    ingest.publish();
    assertInstanceOf(LastHttpContent.class, drainRegions());
    assertArrayEquals(content, received.toByteArray());
    assertTrue(done.isSuccess());
    assertFalse(file.isOpen(), "the file is closed once the body is out");
  }

  @Test
  void aRangeThatEndsBeforeTheBlobDoesEndsAsSoonAsItIsWritten() throws IOException {
    Ingest ingest = cache.ingest(digest, SIZE).join();
    GrowingBlob blob = ingest.followers();
    FileChannel file = blob.openForReading();

    ChannelFuture done = FollowingFileSlices.write(context(), blob, file, 100, 99_999, idle);
    assertNull(drainRegions());
    ingest.append(ByteBuffer.wrap(content, 0, 200_000));

    assertInstanceOf(LastHttpContent.class, drainRegions(), "no part of a blob waits for verification but its end");
    assertArrayEquals(Arrays.copyOfRange(content, 100, 100_000), received.toByteArray());
    assertTrue(done.isSuccess());
    ingest.abandon(new IOException("test over"));
  }

  @Test
  void aBodyOfUnknownLengthEndsOnlyOnceTheBlobIsVerified() throws IOException {
    Ingest ingest = cache.ingest(digest, -1).join();
    GrowingBlob blob = ingest.followers();
    FileChannel file = blob.openForReading();

    ChannelFuture done = FollowingFileSlices.write(context(), blob, file, 0, FollowingBlobInput.UNTIL_END, idle);
    ingest.append(ByteBuffer.wrap(content));
    assertNull(drainRegions(), "all of it is written, but not yet verified");
    assertEquals(SIZE, received.size(), "a body of unknown length sends what is written: only its end waits");

    ingest.publish();
    assertInstanceOf(LastHttpContent.class, drainRegions());
    assertArrayEquals(content, received.toByteArray());
    assertTrue(done.isSuccess());
  }

  @Test
  void aFailedDownloadEndsTheBodyWithoutItsEnd() throws IOException {
    Ingest ingest = cache.ingest(digest, SIZE).join();
    GrowingBlob blob = ingest.followers();
    byte[] wrong = content.clone();
    wrong[SIZE - 1] ^= 1;
    ingest.append(ByteBuffer.wrap(wrong));
    FileChannel file = blob.openForReading();

    ChannelFuture done = FollowingFileSlices.write(context(), blob, file, 0, SIZE - 1, idle);
    assertNull(drainRegions());
    assertThrows(IOException.class, ingest::publish);

    assertNull(drainRegions(), "neither the last byte nor the end of the response");
    assertEquals(SIZE - 1, received.size());
    assertFalse(done.isSuccess());
    assertTrue(done.isDone(), "the body failed, so the connection is closed");
    assertFalse(file.isOpen());
  }

  @Test
  void aConnectionThatClosesWhileTheBodyWaitsClosesTheFileAtOnce() throws IOException {
    Ingest ingest = cache.ingest(digest, SIZE).join();
    GrowingBlob blob = ingest.followers();
    FileChannel file = blob.openForReading();

    ChannelFuture done = FollowingFileSlices.write(context(), blob, file, 0, SIZE - 1, idle);
    channel.close();

    assertTrue(done.isDone());
    assertFalse(done.isSuccess());
    assertFalse(file.isOpen(), "not left open until the download's next append");
    ingest.abandon(new IOException("test over"));
  }

  /**
   * Runs the channel's wake-ups and takes what it sent: every piece of the body must be a file
   * region (its bytes were read through it on the way out, by {@link ReadRegions}); returns what
   * came after them (the end), or null.
   */
  private Object drainRegions() {
    channel.runPendingTasks();
    Object message;
    while ((message = channel.readOutbound()) instanceof FileRegion region) {
      assertTrue(region.count() > 0 && region.count() <= FileSlices.SLICE_BYTES, "a slice of " + region.count() + " bytes");
      region.release();
    }
    return message;
  }

  private ChannelHandlerContext context() {
    return channel.pipeline().lastContext();
  }

  /** Reads each file region through as it is written, as sendfile would, before its write completes. */
  private static final class ReadRegions extends ChannelOutboundHandlerAdapter {
    private final WritableByteChannel sink;

    ReadRegions(ByteArrayOutputStream received) {
      this.sink = Channels.newChannel(received);
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) throws IOException {
      if (message instanceof FileRegion region) {
        while (region.transferred() < region.count()) {
          region.transferTo(sink, region.transferred());
        }
      }
      ctx.write(message, promise);
    }
  }

  private static byte[] random(int size) {
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return bytes;
  }
}
