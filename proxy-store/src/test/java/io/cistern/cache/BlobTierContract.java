package io.cistern.cache;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Flow;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What every {@link BlobTier} does, run against each of them (the local disk, a tier in memory
 * that streams as an object store does, an S3 bucket): absent blobs, sizes, whole and ranged
 * reads, conditional puts of verified content from a file or a stream ("already there" is
 * success, wrong bytes leave nothing), and a delete while a reader holds content. Public, with
 * public tests, so that a tier in another package runs it too.
 */
public abstract class BlobTierContract {

  /** Several chunks of every tier's stream. */
  protected static final int SIZE = 300 * 1024 + 17;
  private static final long WAIT_SECONDS = 30;

  @TempDir
  protected Path scratch;

  private final byte[] content = random(SIZE, 1);
  /** The blob every test puts: the one digest a tier shared between tests must start without. */
  protected final Digest digest = Digest.sha256Of(content);

  /** The tier under test, empty. */
  protected abstract BlobTier tier();

  @Test
  public void anAbsentBlobHasNoSizeNoContentAndDeletesQuietly() throws Exception {
    assertEquals(OptionalLong.empty(), await(tier().size(digest)));
    assertEquals(Optional.empty(), await(tier().read(digest)));
    assertEquals(Optional.empty(), await(tier().read(digest, 10, 10)));
    await(tier().delete(digest));
  }

  @Test
  public void aBlobPutFromAStreamIsReadBackWholeAndInRanges() throws Exception {
    assertEquals(PutOutcome.STORED, await(tier().putVerified(digest, streamed(content))));

    assertEquals(OptionalLong.of(SIZE), await(tier().size(digest)));
    assertArrayEquals(content, bytesOf(await(tier().read(digest)).orElseThrow()));
    assertRange(0, 1);
    assertRange(0, 70_000);
    assertRange(65_536, 65_536);
    assertRange(123_457, 100_000);
    assertRange(SIZE - 1, 1);
    assertRange(SIZE - 100_000, 100_000);
  }

  @Test
  public void aBlobPutFromAFileIsStored() throws Exception {
    try (BlobContent file = fileOf(content)) {
      assertEquals(PutOutcome.STORED, await(tier().putVerified(digest, file)));
    }
    assertArrayEquals(content, bytesOf(await(tier().read(digest)).orElseThrow()));
  }

  @Test
  public void aPutOfABlobThatIsThereAlreadySucceedsAsAlreadyPresent() throws Exception {
    assertEquals(PutOutcome.STORED, await(tier().putVerified(digest, streamed(content))));

    assertEquals(PutOutcome.ALREADY_PRESENT, await(tier().putVerified(digest, streamed(content))));
    try (BlobContent file = fileOf(content)) {
      assertEquals(PutOutcome.ALREADY_PRESENT, await(tier().putVerified(digest, file)));
    }
    BlobContent readBack = await(tier().read(digest)).orElseThrow();
    assertEquals(PutOutcome.ALREADY_PRESENT, await(tier().putVerified(digest, readBack)), "its own content, read back");
    assertArrayEquals(content, bytesOf(await(tier().read(digest)).orElseThrow()));
  }

  @Test
  public void contentThatIsNotTheBlobIsRefusedAndLeavesNothing() throws Exception {
    byte[] wrong = content.clone();
    wrong[SIZE / 2] ^= 1;
    assertMismatch(tier().putVerified(digest, streamed(wrong)));
    try (BlobContent file = fileOf(wrong)) {
      assertMismatch(tier().putVerified(digest, file));
    }
    byte[] shorter = java.util.Arrays.copyOf(content, SIZE - 1);
    assertMismatch(tier().putVerified(digest, new BlobContent.Streamed(SIZE, streamed(shorter).publisher())));

    assertEquals(OptionalLong.empty(), await(tier().size(digest)));
    assertEquals(Optional.empty(), await(tier().read(digest)));
    assertEquals(PutOutcome.STORED, await(tier().putVerified(digest, streamed(content))), "the right bytes still go in");
  }

  @Test
  public void contentReadBeforeADeleteStaysReadableToItsEnd() throws Exception {
    assertEquals(PutOutcome.STORED, await(tier().putVerified(digest, streamed(content))));
    BlobContent held = await(tier().read(digest)).orElseThrow();
    StepReader reader = new StepReader();
    held.publisher().subscribe(reader);
    reader.next();
    assertTrue(reader.received.size() > 0, "a first buffer was read");

    await(tier().delete(digest));
    assertEquals(OptionalLong.empty(), await(tier().size(digest)), "deleted");
    assertEquals(Optional.empty(), await(tier().read(digest)), "deleted");

    assertArrayEquals(content, reader.rest(), "the reader holding it got every byte");
    held.close();
  }

  @Test
  public void aRangeOfNothingOrPastTheEndFails() throws Exception {
    assertEquals(PutOutcome.STORED, await(tier().putVerified(digest, streamed(content))));
    for (long[] range : new long[][] {{0, 0}, {SIZE - 10, 11}, {SIZE, 1}}) {
      CompletableFuture<Optional<BlobContent>> read = tier().read(digest, range[0], range[1]);
      assertThrows(ExecutionException.class, () -> read.get(WAIT_SECONDS, TimeUnit.SECONDS),
          "bytes " + range[0] + "+" + range[1]);
    }
  }

  @Test
  public void contentClosedUnreadLetsGoOfIt() throws Exception {
    assertEquals(PutOutcome.STORED, await(tier().putVerified(digest, streamed(content))));
    await(tier().read(digest)).orElseThrow().close();
    await(tier().read(digest, 0, 10)).orElseThrow().close();
    assertArrayEquals(content, bytesOf(await(tier().read(digest)).orElseThrow()), "and the blob is still there");
  }

  private void assertRange(long offset, long length) throws Exception {
    BlobContent range = await(tier().read(digest, offset, length)).orElseThrow();
    assertEquals(length, range.length());
    byte[] expected = java.util.Arrays.copyOfRange(content, (int) offset, (int) (offset + length));
    assertArrayEquals(expected, bytesOf(range), "bytes " + offset + "+" + length);
  }

  private static void assertMismatch(CompletableFuture<PutOutcome> put) {
    ExecutionException failure = assertThrows(ExecutionException.class, () -> put.get(WAIT_SECONDS, TimeUnit.SECONDS));
    assertInstanceOf(ContentMismatchException.class, failure.getCause(), failure.toString());
  }

  /** {@code bytes} as a tier that streams would hand them out. */
  protected static BlobContent.Streamed streamed(byte[] bytes) {
    return new BlobContent.Streamed(bytes.length, new PulledPublisher(bytes.length,
        (position, count) -> ByteBuffer.wrap(bytes, (int) position, count).slice()));
  }

  /** {@code bytes} as the local disk hands them out: a region of an open file. */
  private BlobContent.FileRegion fileOf(byte[] bytes) throws Exception {
    Path file = Files.createTempFile(scratch, "content", ".bin");
    Files.write(file, bytes);
    return new BlobContent.FileRegion(FileChannel.open(file, StandardOpenOption.READ), 0, bytes.length);
  }

  protected static <T> T await(CompletableFuture<T> future) throws Exception {
    return future.get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  /** Reads content to its end through its stream (the way every receiver but sendfile does) and closes it. */
  protected static byte[] bytesOf(BlobContent content) throws Exception {
    try (content) {
      StepReader reader = new StepReader();
      content.publisher().subscribe(reader);
      return reader.rest();
    }
  }

  protected static byte[] random(int size, long seed) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }

  /** A subscriber the test drives: one buffer at a time, or the rest. */
  private static final class StepReader implements Flow.Subscriber<ByteBuffer> {

    final ByteArrayOutputStream received = new ByteArrayOutputStream();
    private final CompletableFuture<Flow.Subscription> subscribed = new CompletableFuture<>();
    private final CompletableFuture<Void> ended = new CompletableFuture<>();
    private volatile CompletableFuture<Void> arrived = new CompletableFuture<>();
    private volatile boolean all;

    /** Asks for one buffer and waits for it (or the end). */
    void next() throws Exception {
      CompletableFuture<Void> waiting = new CompletableFuture<>();
      arrived = waiting;
      subscribed.get(WAIT_SECONDS, TimeUnit.SECONDS).request(1);
      CompletableFuture.anyOf(waiting, ended).get(WAIT_SECONDS, TimeUnit.SECONDS);
    }

    /** Reads to the end; everything received, from the first byte. */
    byte[] rest() throws Exception {
      all = true;
      subscribed.get(WAIT_SECONDS, TimeUnit.SECONDS).request(1);
      ended.get(WAIT_SECONDS, TimeUnit.SECONDS);
      return received.toByteArray();
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      subscribed.complete(subscription);
    }

    @Override
    public synchronized void onNext(ByteBuffer buffer) {
      byte[] chunk = new byte[buffer.remaining()];
      buffer.get(chunk);
      received.writeBytes(chunk);
      arrived.complete(null);
      if (all) {
        subscribed.join().request(1);
      }
    }

    @Override
    public void onError(Throwable failure) {
      ended.completeExceptionally(failure);
    }

    @Override
    public void onComplete() {
      ended.complete(null);
    }
  }
}
