package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.ingest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.time.Clock;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A download in progress, from its followers' side ({@link GrowingBlob}): woken per append,
 * following the temp file across its rename, and never handed the final byte of content that
 * fails verification; a range that ends before the blob does is read as written. (Publication
 * itself is {@link BlobCachePublicationTest}'s.)
 */
class GrowingBlobTest {

  private static final int SIZE = 100_000;

  @TempDir
  Path directory;

  private CacheDirectory opened;
  private BlobCache cache;
  private final byte[] content = random(SIZE);
  private final Digest digest = Digest.sha256Of(content);

  @BeforeEach
  void open() {
    opened = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC());
    cache = opened.blobs();
  }

  @AfterEach
  void close() {
    opened.close();
  }

  @Test
  void aReaderThatCaughtUpIsWokenByTheNextAppend() throws IOException {
    Ingest ingest = ingest(cache, digest, SIZE);
    GrowingBlob blob = ingest.followers();
    ingest.append(ByteBuffer.wrap(content, 0, 1000));

    CompletableFuture<Void> ahead = blob.awaitReadable(500, SIZE - 1);
    CompletableFuture<Void> caughtUp = blob.awaitReadable(1000, SIZE - 1);
    assertTrue(ahead.isDone(), "bytes beyond its position are there already");
    assertFalse(caughtUp.isDone());

    ingest.append(ByteBuffer.wrap(content, 1000, 1000));
    assertTrue(caughtUp.isDone());
    ingest.abandon(new IOException("test over"));
  }

  @Test
  void aChannelOpenedOnTheTempFileReadsTheWholeBlobAfterPublication() throws IOException {
    Ingest ingest = ingest(cache, digest, SIZE);
    GrowingBlob blob = ingest.followers();
    ingest.append(ByteBuffer.wrap(content, 0, 10));
    try (FileChannel reader = blob.openForReading()) {
      ingest.append(ByteBuffer.wrap(content, 10, SIZE - 10));
      ingest.publish().join();

      ByteBuffer read = ByteBuffer.allocate(SIZE);
      while (read.hasRemaining() && reader.read(read, read.position()) > 0) {
        // Reads until full.
      }
      assertArrayEquals(content, read.array());
    }
    try (FileChannel late = blob.openForReading()) {
      assertEquals(SIZE, late.size(), "a reader that comes after the rename opens the published file");
    }
  }

  @Test
  void aReaderWaitingForTheLastByteOfWrongContentIsWokenToTheFailure() throws IOException {
    Ingest ingest = ingest(cache, digest, SIZE);
    GrowingBlob blob = ingest.followers();
    assertEquals(SIZE, cache.stats().reservedBytes(), "its room was claimed");
    byte[] wrong = content.clone();
    wrong[SIZE - 1] ^= 1;
    ingest.append(ByteBuffer.wrap(wrong));
    CompletableFuture<Void> lastByte = blob.awaitReadable(SIZE - 1, SIZE - 1);
    assertFalse(lastByte.isDone(), "the last byte waits for verification");

    assertThrows(ContentMismatchException.class, ingest::publish);

    assertTrue(lastByte.isDone(), "the waiting reader is woken to find the failure");
    assertTrue(blob.finished().isCompletedExceptionally());
    assertEquals(SIZE - 1, blob.readableLimit(SIZE - 1), "the last byte is never released");
    assertFalse(Files.exists(cache.pathOf(digest)));
    assertEquals(List.of(), partials());
    assertEquals(0, cache.stats().reservedBytes(), "the reservation went back");
  }

  @Test
  void aRangeThatEndsBeforeTheBlobDoesIsReadableAsWrittenOnlyTheBlobsLastByteWaits() throws IOException {
    Ingest ingest = ingest(cache, digest, SIZE);
    GrowingBlob blob = ingest.followers();
    ingest.append(ByteBuffer.wrap(content, 0, 5000));

    assertEquals(1000, blob.readableLimit(999), "a range within the bytes written is readable to its end");
    assertTrue(blob.awaitReadable(999, 999).isDone());
    assertEquals(5000, blob.readableLimit(SIZE - 2), "one ending short of the blob's end reads what is written");
    ingest.append(ByteBuffer.wrap(content, 5000, SIZE - 5000));
    assertEquals(SIZE - 1, blob.readableLimit(SIZE - 2), "and then all of it, unverified: no part can be checked alone");
    assertEquals(SIZE - 1, blob.readableLimit(SIZE - 1), "the blob's last byte waits for the digest");
    assertFalse(blob.awaitReadable(SIZE - 1, SIZE - 1).isDone());
    ingest.abandon(new IOException("test over"));
  }

  @Test
  void aShortDownloadIsNotPublished() throws IOException {
    Ingest ingest = ingest(cache, digest, SIZE);
    ingest.append(ByteBuffer.wrap(content, 0, SIZE - 1));

    assertThrows(ContentMismatchException.class, ingest::publish);
    assertFalse(Files.exists(cache.pathOf(digest)));
    assertEquals(List.of(), partials());
  }

  @Test
  void aRestartedDownloadCanCheckItsPrefixAgainstTheBytesWritten() throws IOException {
    Ingest ingest = ingest(cache, digest, SIZE);
    ingest.append(ByteBuffer.wrap(content, 0, 4096));

    MessageDigest again = digest.algorithm().newMessageDigest();
    again.update(content, 0, 4096);
    assertArrayEquals(again.digest(), ingest.hashSoFar().digest());
    ingest.append(ByteBuffer.wrap(content, 4096, SIZE - 4096));
    ingest.publish();
    assertTrue(ingest.followers().isVerified(), "taking the prefix hash does not disturb the running one");
  }

  private List<Path> partials() throws IOException {
    try (Stream<Path> files = Files.walk(directory)) {
      return files.filter(file -> file.getFileName().toString().endsWith(".partial")).toList();
    }
  }

  private static byte[] random(int size) {
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return bytes;
  }
}
