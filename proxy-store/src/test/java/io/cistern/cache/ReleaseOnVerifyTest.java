package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.ingest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Verified is not durable: a download's followers get its last byte as soon as its digest
 * matches, and the blob is made durable (fsync, rename, directory fsync, row) after that, on the
 * cache's durability executor, here one the test holds ({@link HeldExecutor}). Until it is
 * durable it is not stored for anyone else, its room stays claimed, a stop is not marked clean,
 * and a crash in that window loses the blob from the cache but never leaves a torn file.
 */
class ReleaseOnVerifyTest {

  private static final int SIZE = 300_000;

  @TempDir
  Path directory;

  private final byte[] content = random(SIZE);
  private final Digest digest = Digest.sha256Of(content);
  private final HeldExecutor durability = new HeldExecutor();

  @Test
  void followersGetTheLastByteOnceVerifiedBeforeTheBlobIsDurable() throws Exception {
    try (CacheDirectory opened = openHeld()) {
      BlobCache cache = opened.blobs();
      Ingest ingest = ingest(cache, digest, SIZE);
      GrowingBlob blob = ingest.followers();
      ingest.append(ByteBuffer.wrap(content));
      CompletableFuture<Void> lastByte = blob.awaitReadable(SIZE - 1, SIZE - 1);
      assertFalse(lastByte.isDone(), "before verification the last byte waits");

      CompletableFuture<Path> stored = ingest.publish();

      assertTrue(lastByte.isDone(), "the follower waiting for the last byte is woken by the digest check");
      assertEquals(SIZE, blob.readableLimit(SIZE - 1));
      assertTrue(blob.isVerified());
      assertEquals(1, durability.waiting(), "storing it waits for the durability executor");
      assertFalse(stored.isDone());
      assertFalse(blob.finished().isDone(), "the download has not ended for the cache");
      assertFalse(Files.exists(cache.pathOf(digest)), "nothing renamed into place yet");
      assertTrue(cache.open(digest).isEmpty(), "not a hit for anyone yet");
      assertEquals(SIZE, cache.stats().reservedBytes(), "its room stays claimed");
      assertEquals(0, cache.stats().storedBytes());
      try (FileChannel late = blob.openForReading()) {
        assertArrayEquals(content, readAll(late), "a client that comes in this window reads the verified temp file");
      }

      durability.runAll();

      assertEquals(cache.pathOf(digest), stored.join());
      assertEquals(stored.join(), blob.finished().join());
      try (BlobContent.FileRegion hit = cache.open(digest).orElseThrow()) {
        assertEquals(SIZE, hit.length());
      }
      assertEquals(SIZE, cache.stats().storedBytes());
      assertEquals(0, cache.stats().reservedBytes());
      assertEquals(1, SqliteClient.rows(directory));
      assertEquals(List.of(), partials());
    }
    assertTrue(Files.exists(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER)), "nothing was pending at the stop");
  }

  @Test
  void aCrashAfterVerificationButBeforeDurabilityLosesTheBlobAndLeavesNoTornFile() throws Exception {
    CacheDirectory crashed = openHeld();
    Ingest ingest = ingest(crashed.blobs(), digest, SIZE);
    ingest.append(ByteBuffer.wrap(content));
    ingest.publish();
    assertEquals(SIZE, ingest.followers().readableLimit(SIZE - 1), "a client could have had every byte");
    Path temp = partials().get(0);
    crashed.close();
    durability.dropAll();
    assertFalse(Files.exists(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER)),
        "a stop with a verified blob not yet durable is not clean");
    // The worst this window can leave after a power cut: the rename on disk, the bytes not all
    // (the fsync never ran). Recovery must hash it before adopting it.
    Path target = DiskTier.pathOf(directory.resolve("blobs"), digest);
    Files.write(target, Arrays.copyOf(Files.readAllBytes(temp), SIZE / 2));

    try (CacheDirectory recovered = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC())) {
      BlobCache cache = recovered.blobs();
      assertEquals(List.of(), partials(), "the temp file is deleted");
      assertFalse(Files.exists(target), "the torn file is not adopted");
      assertTrue(cache.open(digest).isEmpty(), "the blob is lost from the cache, never served torn");
      assertFalse(SqliteClient.blob(directory, digest).isPresent());
      try (Stream<Path> quarantined = Files.list(cache.quarantineDirectory())) {
        assertEquals(1, quarantined.count(), "it waits in quarantine");
      }
      assertEquals(0, cache.stats().storedBytes());
      assertEquals(0, cache.stats().reservedBytes());
    }
  }

  @Test
  void aStopWaitsForVerifiedBlobsToBeDurable() throws Exception {
    try (CacheDirectory opened = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC())) {
      Ingest ingest = ingest(opened.blobs(), digest, SIZE);
      ingest.append(ByteBuffer.wrap(content));
      ingest.publish();
    }
    assertTrue(Files.exists(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER)), "nothing was left pending");
    try (CacheDirectory reopened = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC())) {
      assertEquals(SIZE, reopened.blobs().sizeOf(digest).orElseThrow());
      assertEquals(SIZE, reopened.blobs().stats().storedBytes());
    }
  }

  private CacheDirectory openHeld() {
    return CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC(), ForkJoinPool.commonPool(),
        null, EvictorObserver.NONE, durability);
  }

  private List<Path> partials() throws IOException {
    try (Stream<Path> files = Files.walk(directory.resolve("blobs"))) {
      return files.filter(file -> file.getFileName().toString().endsWith(DiskTier.PARTIAL_SUFFIX)).toList();
    }
  }

  private static byte[] readAll(FileChannel channel) throws IOException {
    ByteBuffer read = ByteBuffer.allocate((int) channel.size());
    while (read.hasRemaining() && channel.read(read, read.position()) > 0) {
      // Reads until full.
    }
    return read.array();
  }

  private static byte[] random(int size) {
    byte[] bytes = new byte[size];
    new Random(size).nextBytes(bytes);
    return bytes;
  }
}
