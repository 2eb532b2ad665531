package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.NO_FLUSH_TICK;
import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.download;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.cistern.cache.CacheFixtures.ManualClock;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ForkJoinPool;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * The cache on a file system short of space: reservations check the real free space against
 * {@code minFreeBytes}; on a really full disk (a small tmpfs, mounted when the test runs as root)
 * every write fails as a {@link LocalStorageException} that names the cause, SQLite's "disk is
 * full" included, and what is cached is still served.
 */
class FullDiskTest {

  private static final int KIB = 1024;
  private static final long MIB = 1L << 20;

  @TempDir
  Path temp;

  private final ManualClock clock = new ManualClock();
  private final Random random = new Random(13);

  /** The evictor of the cache opened last. */
  private EvictorTurns evictor;

  private CacheDirectory open(Path directory, long minFreeBytes) {
    evictor = new EvictorTurns();
    return CacheFixtures.open(new CacheSettings(directory, 1L << 40, 0.9, NO_FLUSH_TICK, Duration.ofMinutes(1), 4, minFreeBytes),
        clock, evictor);
  }

  @Test
  void aReservationThatWouldLeaveLessThanMinFreeBytesIsRefusedAndTheCacheStillServes() throws Exception {
    Path directory = temp.resolve("cache");
    byte[] cached = content(random, 4 * KIB);
    try (CacheDirectory opened = open(directory, 0)) {
      BlobCache cache = opened.blobs();
      download(cache, cached, true);
    }
    // Above what this real file system has free, whatever else runs on it.
    long aboveFree = Files.getFileStore(temp).getTotalSpace() + 1;

    try (CacheDirectory opened = open(directory, aboveFree)) {
      BlobCache cache = opened.blobs();
      NoRoomOnDiskException refusal = refusal(cache, 1);
      assertTrue(refusal.getMessage().contains("no room"), refusal.getMessage());
      assertTrue(refusal.getMessage().contains("not cached"), refusal.getMessage());
      assertThrows(NoRoomOnDiskException.class, cache::requireFreeDisk);
      assertEquals(0, cache.stats().reservedBytes(), "a refusal holds nothing");
      assertEquals(1, cache.stats().refusedReservations());
      assertEquals(List.of(), partials(directory), "nor a temp file");

      try (BlobContent content = cache.open(Digest.sha256Of(cached)).orElseThrow()) {
        assertEquals(cached.length, content.length(), "what is cached is still served");
      }
    }
  }

  @Test
  void onAFullFileSystemWritesFailAsLocalStorageFailuresThatNameTheCauseAndCachedContentIsStillServed() throws Exception {
    Path mountPoint = temp.resolve("small");
    try (TmpfsMount mounted = TmpfsMount.mount(mountPoint, 8 * MIB)) {
      Path directory = mountPoint.resolve("cache");
      try (CacheDirectory opened = open(directory, MIB)) {
        BlobCache cache = opened.blobs();
        byte[] cached = content(random, 64 * KIB);
        Digest cachedDigest = download(cache, cached, true);
        long free = Files.getFileStore(directory).getUsableSpace();

        // Room is checked against the real free space, less what reservations under way will write.
        assertTrue(refusal(cache, free).getMessage().contains("no room"), "it would leave less than minFreeBytes");
        Ingest first = cache.ingest(Digest.sha256Of(new byte[] {1}), (free - MIB) / 2 + KIB).join();
        assertTrue(refusal(cache, (free - MIB) / 2 + KIB).getMessage().contains("no room"),
            "the first reservation's bytes are promised");
        first.abandon(new IOException("test over"));
        cache.ingest(Digest.sha256Of(new byte[] {2}), (free - MIB) / 2 + KIB).join().abandon(new IOException("test over"));

        Path filler = mountPoint.resolve("filler");
        TmpfsMount.fill(filler);

        // A download of unknown size (no reservation) meets the full disk at its first write.
        byte[] blob = content(random, 256 * KIB);
        Ingest partial = cache.ingest(Digest.sha256Of(blob), -1).join();
        LocalStorageException full = assertThrows(LocalStorageException.class, () -> partial.append(ByteBuffer.wrap(blob)));
        assertTrue(full.getMessage().contains("No space left on device"), full.getMessage());
        partial.abandon(full);
        assertEquals(List.of(), partials(directory), "the abandoned download's temp file is gone");

        Manifest manifest = CacheFixtures.imageManifest(List.of(cached));
        UncheckedIOException unstored = assertThrows(UncheckedIOException.class, () -> cache.storeManifest(manifest));
        assertTrue(LocalStorageException.in(unstored).isPresent(), "a manifest that cannot be written fails as local");
        assertFalse(cache.contains(manifest.digest()));

        // SQLite's own error, not the "cannot commit - no transaction is active" that its
        // automatic rollback used to leave in its place.
        TagMapping tag = new TagMapping(new TagKey("upstream.test", RepositoryName.of("team/app"), new Tag("1.0")),
            cachedDigest, Instant.now());
        MetadataException tagFailure = assertThrows(MetadataException.class, () -> opened.tags().put(tag));
        assertDiskFull(tagFailure);
        cache.recordAccess(cachedDigest);
        cache.pokeEvictor();
        CompletionException evictorFailure = assertThrows(CompletionException.class, () -> evictor.caughtUp().join());
        assertDiskFull(evictorFailure.getCause());

        try (FileChannel channel = cache.open(cachedDigest).orElseThrow().channel()) {
          ByteBuffer read = ByteBuffer.allocate(cached.length);
          while (read.hasRemaining() && channel.read(read) >= 0) {
            // Reads until the whole blob is in.
          }
          assertArrayEquals(cached, read.array(), "what is cached is still served");
        }

        Files.delete(filler);
        opened.tags().put(tag);
        cache.storeManifest(manifest);
        assertTrue(cache.contains(download(cache, blob, true)), "with room again, downloads are stored");
        cache.pokeEvictor();
        evictor.caughtUp().join();
      }
    }
  }

  @Test
  void aVerifiedBlobTheFullDiskCannotStoreIsDroppedLoggedOnceAndItsFollowersKeepTheVerifiedBytes() throws Exception {
    Path mountPoint = temp.resolve("durable");
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    Logger failures = (Logger) LoggerFactory.getLogger(StorageFailures.class);
    failures.addAppender(logs);
    try (TmpfsMount mounted = TmpfsMount.mount(mountPoint, 8 * MIB)) {
      HeldExecutor durability = new HeldExecutor();
      Path directory = mountPoint.resolve("cache");
      try (CacheDirectory opened = CacheDirectory.open(new CacheSettings(directory, 1L << 40, 0.9, NO_FLUSH_TICK,
          Duration.ofMinutes(1), 4, 0), clock, ForkJoinPool.commonPool(), null, EvictorObserver.NONE, durability)) {
        BlobCache cache = opened.blobs();
        byte[] blob = content(random, 256 * KIB);
        Digest digest = Digest.sha256Of(blob);
        Ingest ingest = CacheFixtures.ingest(cache, digest, blob.length);
        ingest.append(ByteBuffer.wrap(blob));
        GrowingBlob followers = ingest.followers();
        try (FileChannel follower = followers.openForReading()) {
          CompletableFuture<Path> stored = ingest.publish();
          assertEquals(blob.length, followers.readableLimit(blob.length - 1), "released on verification");
          TmpfsMount.fill(mountPoint.resolve("filler"));

          durability.runAll();

          CompletionException notStored = assertThrows(CompletionException.class, stored::join);
          assertTrue(LocalStorageException.in(notStored).isPresent(), "a local failure: " + notStored);
          assertFalse(followers.hasFailed(), "not a failure of the content");
          ByteBuffer read = ByteBuffer.allocate(blob.length);
          while (read.hasRemaining() && follower.read(read, read.position()) > 0) {
            // Reads until the whole blob is in.
          }
          assertArrayEquals(blob, read.array(), "a client reading it gets every verified byte");
        }
        assertFalse(cache.contains(digest), "the file is dropped");
        assertEquals(List.of(), partials(directory));
        assertEquals(0, cache.stats().reservedBytes(), "its room is given back");
        assertEquals(0, cache.stats().storedBytes());
        assertEquals(1, logs.list.stream().filter(event -> event.getLevel() == Level.ERROR).count(),
            "logged once, as the cache's own failure");
      }
    } finally {
      failures.detachAppender(logs);
    }
  }

  private static NoRoomOnDiskException refusal(BlobCache cache, long bytes) {
    CompletionException refused = assertThrows(CompletionException.class,
        () -> cache.ingest(Digest.sha256Of(new byte[] {0}), bytes).join());
    return assertInstanceOf(NoRoomOnDiskException.class, refused.getCause());
  }

  private static void assertDiskFull(Throwable failure) {
    assertTrue(LocalStorageException.in(failure).isPresent(), "a local storage failure: " + failure);
    assertTrue(failure.getMessage().contains("SQLITE_FULL"), failure.getMessage());
    assertFalse(failure.getMessage().contains("no transaction is active"), failure.getMessage());
  }

  private static List<Path> partials(Path directory) throws IOException {
    try (Stream<Path> files = Files.walk(directory)) {
      return files.filter(file -> file.getFileName().toString().endsWith(DiskTier.PARTIAL_SUFFIX)).toList();
    }
  }
}
