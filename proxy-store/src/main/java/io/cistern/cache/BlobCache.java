package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pull-through cache's storage: blobs and manifests on disk ({@link BlobStore}), metadata in
 * SQLite ({@link MetadataStore}), the byte cap ({@link DiskBudget}) and its evictor.
 *
 * <p>Hits touch no database: a blob is served by opening its file, and the access is recorded in
 * memory. Downloads go through {@link #reserve}, {@link #begin}, then {@link #publish} or
 * {@link #abandon}.
 *
 * <p>One process owns a cache directory at a time ({@code cistern.lock}), so there is one writer
 * to its SQLite file. A run that ends through {@link #close} with no download under way leaves a
 * clean-stop marker; a start without it runs {@link Recovery} first.
 */
public final class BlobCache implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(BlobCache.class);

  static final String LOCK_FILE = "cistern.lock";
  static final String CLEAN_STOP_MARKER = "clean-stop";
  static final String DATABASE_FILE = "metadata.db";

  private final CacheSettings settings;
  private final Clock clock;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final BlobStore blobs;
  private final MetadataStore metadata;
  private final DiskBudget budget;
  private final AccessTracker accesses = new AccessTracker();
  private final Evictor evictor;
  private final List<Consumer<List<Digest>>> evictionListeners = new CopyOnWriteArrayList<>();
  private final Set<PartialBlob> underway = ConcurrentHashMap.newKeySet();
  private volatile boolean closing;
  /** No database yet: nothing can need recovering. */
  private final boolean freshDirectory;

  private BlobCache(CacheSettings settings, Clock clock, Executor callbacks, FileChannel lockChannel, FileLock lock) {
    this.freshDirectory = !Files.exists(settings.directory().resolve(DATABASE_FILE));
    this.settings = settings;
    this.clock = clock;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.blobs = new BlobStore(settings.directory().resolve("blobs"));
    this.metadata = MetadataStore.open(settings.directory().resolve(DATABASE_FILE), settings.poolSize());
    this.budget = new DiskBudget(settings.maxBytes(), settings.lowWaterBytes(), settings.reservationTimeout(),
        this::pokeEvictor, callbacks);
    this.evictor = new Evictor(metadata, blobs, budget, accesses, settings.accessFlushInterval(),
        digests -> evictionListeners.forEach(listener -> listener.accept(digests)));
  }

  /**
   * As {@link #open(CacheSettings, Clock, Executor)}, with waiting reservations answered on the
   * common pool: for tools and tests that run no executor of their own.
   */
  public static BlobCache open(CacheSettings settings, Clock clock) {
    return open(settings, clock, ForkJoinPool.commonPool());
  }

  /**
   * Opens the cache in {@code settings.directory()}, recovering from an unclean stop, and starts
   * its evictor.
   *
   * @param callbacks where a reservation that had to wait for room continues (whatever the caller
   *     chained to it), so that it never runs on the evictor thread
   * @throws CacheInUseException when another process has the directory open
   */
  public static BlobCache open(CacheSettings settings, Clock clock, Executor callbacks) {
    Path directory = settings.directory();
    FileChannel lockChannel = null;
    try {
      Files.createDirectories(directory);
      lockChannel = FileChannel.open(directory.resolve(LOCK_FILE), StandardOpenOption.CREATE, StandardOpenOption.WRITE);
      FileLock lock;
      try {
        lock = lockChannel.tryLock();
      } catch (OverlappingFileLockException e) {
        lock = null;
      }
      if (lock == null) {
        lockChannel.close();
        throw new CacheInUseException(directory);
      }
      BlobCache cache = new BlobCache(settings, clock, callbacks, lockChannel, lock);
      cache.start();
      return cache;
    } catch (IOException e) {
      closeQuietly(lockChannel);
      throw new UncheckedIOException("cannot open the cache in " + directory, e);
    }
  }

  private void start() throws IOException {
    Path marker = settings.directory().resolve(CLEAN_STOP_MARKER);
    if (Files.deleteIfExists(marker)) {
      // Durable before anything changes: a marker brought back by a power cut would skip recovery.
      BlobStore.fsyncDirectory(settings.directory());
    } else if (!freshDirectory) {
      new Recovery(blobs, metadata).run();
    }
    long[] totals = metadata.totals();
    budget.initialise(totals[0], totals[1]);
    evictor.start();
    if (budget.needsEviction()) {
      evictor.poke();
    }
  }

  public Path directory() {
    return settings.directory();
  }

  /** Where a blob is (or would be) stored; for tools and tests. */
  public Path pathOf(Digest digest) {
    return blobs.pathOf(digest);
  }

  // ---- reading ----

  /** Opens a cached blob and counts the access; empty on a miss. The caller closes the channel. */
  public Optional<FileChannel> open(Digest digest) {
    Optional<FileChannel> channel = blobs.open(digest);
    channel.ifPresent(ignored -> recordAccess(digest));
    return channel;
  }

  /** The size of a cached blob, counting a HEAD as an access; empty on a miss. */
  public Optional<Long> sizeOf(Digest digest) {
    Optional<Long> size = blobs.sizeOf(digest);
    size.ifPresent(ignored -> recordAccess(digest));
    return size;
  }

  public boolean contains(Digest digest) {
    return blobs.contains(digest);
  }

  /**
   * Reads a cached manifest with its media type: from its row, or from the document itself for a
   * file recovery adopted without one. Empty on a miss, or if the stored type is unknowable.
   */
  public Optional<Manifest> readManifest(Digest digest) {
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(blobs.pathOf(digest));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read manifest " + digest, e);
    }
    recordAccess(digest);
    String mediaType = metadata.findBlob(digest).map(BlobRecord::mediaType).orElse(null);
    if (mediaType == null) {
      try {
        mediaType = ManifestDocument.parse(bytes).mediaType();
      } catch (RegistryException notJson) {
        return Optional.empty();
      }
    }
    if (mediaType == null || !MediaTypes.isManifest(mediaType)) {
      return Optional.empty();
    }
    return Optional.of(new Manifest(digest, mediaType, bytes));
  }

  /** Counts an access served from elsewhere (a manifest held in memory) toward the blob's LRU rank. */
  public void recordAccess(Digest digest) {
    accesses.record(digest, clock.millis());
  }

  // ---- writing ----

  /**
   * Claims room for a download of {@code bytes} before it starts; waits while the evictor frees
   * space. Fails with 507 when the blob is larger than the whole cap, and with 503 when no room
   * was freed within the reservation timeout (everything else is pinned or still downloading).
   */
  public CompletableFuture<Reservation> reserve(long bytes) {
    return budget.reserve(bytes);
  }

  /** Starts a download into a temp file beside the blob's final place; refused once closing. */
  public PartialBlob begin(Digest digest, long expectedSize) throws IOException {
    Path temp = blobs.createPartial(digest);
    PartialBlob partial;
    try {
      partial = new PartialBlob(digest, temp, blobs.pathOf(digest), expectedSize);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(temp);
      throw e;
    }
    // Registered before `closing` is read, while close() sets `closing` before it reads the set:
    // one of the two sees the other, so no temp file outlives a stop marked clean.
    underway.add(partial);
    if (closing) {
      IOException refused = new IOException("the cache is closing");
      abandon(partial, null, refused);
      throw refused;
    }
    return partial;
  }

  /**
   * Verifies, syncs and renames a finished download into place, records it, and only then tells
   * its readers it is published. On any failure the download is abandoned and the exception thrown.
   *
   * @param reservation the download's claim, or null if it had none (unknown size)
   */
  public void publish(PartialBlob partial, Reservation reservation, String mediaType) throws IOException {
    try {
      partial.verifyAndSync();
      blobs.publish(partial.tempPath(), partial.digest());
      long size = partial.written();
      recordStored(partial.digest(), size, mediaType, reservation);
      partial.markPublished();
      underway.remove(partial);
    } catch (IOException | RuntimeException e) {
      abandon(partial, reservation, e);
      throw e;
    }
  }

  /** Gives up a download: its temp file goes, its reservation is released, its readers fail. */
  public void abandon(PartialBlob partial, Reservation reservation, Throwable cause) {
    partial.fail(cause);
    underway.remove(partial);
    if (reservation != null) {
      release(reservation);
    }
  }

  /** Gives back a reservation whose download never began. */
  public void release(Reservation reservation) {
    reservation.release();
    budget.admitWaiting();
  }

  /** Stores a verified manifest (small: written in one go, atomically). */
  public void storeManifest(Manifest manifest) {
    if (!manifest.digest().matches(manifest.bytes())) {
      throw new IllegalArgumentException("manifest bytes do not match " + manifest.digest());
    }
    try {
      blobs.write(manifest.digest(), manifest.bytes());
    } catch (IOException e) {
      throw new UncheckedIOException("cannot store manifest " + manifest.digest(), e);
    }
    recordStored(manifest.digest(), manifest.bytes().length, manifest.mediaType(), null);
  }

  private void recordStored(Digest digest, long size, String mediaType, Reservation reservation) {
    long replaced = metadata.insertBlob(digest, size, mediaType, clock.millis());
    if (replaced >= 0) {
      budget.addStored(-replaced);
    } else {
      budget.countEntry(1);
    }
    if (reservation != null) {
      reservation.commit(size);
    } else {
      budget.addStored(size);
    }
    // After the bytes are counted, so a poke dropped here is absorbed by a pending one whose pass
    // sees them (see Evictor). Below the cap nothing is due, and the evictor stays asleep.
    if (budget.needsEviction()) {
      pokeEvictor();
    }
  }

  // ---- tags and repositories ----

  public Optional<TagMapping> findTag(TagKey key) {
    return metadata.findTag(key);
  }

  public void putTag(TagMapping mapping) {
    metadata.putTag(mapping);
  }

  public void linkManifest(String upstream, RepositoryName repository, Digest digest) {
    metadata.linkManifest(upstream, repository, digest);
  }

  public List<String> tagsOf(String upstream, RepositoryName repository) {
    return metadata.tagsOf(upstream, repository);
  }

  // ---- eviction ----

  /**
   * Pins a stored blob so that eviction never picks it, or unpins it.
   *
   * @return false when the blob is not stored
   */
  public boolean setPinned(Digest digest, boolean pinned) {
    boolean found = metadata.setPinned(digest, pinned);
    if (found && !pinned && budget.needsEviction()) {
      pokeEvictor();
    }
    return found;
  }

  /**
   * Completes once the evictor has served every poke made before the call, including the pass
   * each was due: after a burst, the moment the cap holds again (unless what is left is pinned).
   * It does not poke the evictor itself. For tests and tools that need a quiescent cache without
   * waiting on a clock.
   */
  public CompletableFuture<Void> evictionCaughtUp() {
    return evictor.caughtUp();
  }

  /** Registers a callback told which digests were evicted (to drop them from memory caches). */
  public void onEviction(Consumer<List<Digest>> listener) {
    evictionListeners.add(listener);
  }

  void pokeEvictor() {
    evictor.poke();
  }

  public CacheStats stats() {
    return new CacheStats(budget.storedBytes(), budget.reservedBytes(), budget.entries(), budget.maxBytes(),
        budget.lowWaterBytes(), budget.peakBytes(), budget.waitingReservations(), budget.refusedReservations(),
        evictor.passes(), evictor.failedPasses(), evictor.evictedBlobs(), evictor.evictedBytes());
  }

  /** Checks the metadata database answers (for readiness probes); throws a MetadataException if not. */
  public void pingMetadata() {
    metadata.ping();
  }

  /** For tests of the one-connection rule and pool sizing. */
  MetadataStore metadata() {
    return metadata;
  }

  /**
   * Stops the evictor (flushing access times) and closes the database. The stop is marked clean
   * only if no download was under way: one could still leave its temp file, or rename its file
   * into place without a row, and the next start's recovery settles both.
   */
  @Override
  public void close() {
    closing = true;
    int downloads = underway.size();
    try {
      evictor.close();
      metadata.close();
      if (downloads == 0) {
        Files.writeString(settings.directory().resolve(CLEAN_STOP_MARKER), "clean\n");
      } else {
        log.info("closed with {} downloads under way: the next start checks the cache", downloads);
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot mark a clean stop in " + settings.directory(), e);
    } finally {
      try {
        lock.release();
      } catch (IOException ignored) {
        // Closing the channel releases the lock too.
      }
      closeQuietly(lockChannel);
    }
  }

  private static void closeQuietly(FileChannel channel) {
    if (channel != null) {
      try {
        channel.close();
      } catch (IOException ignored) {
        // Nothing more to do for a lock file.
      }
    }
  }

  /** Another process (a running server, or a CLI command) has this cache directory open. */
  public static final class CacheInUseException extends IllegalStateException {
    CacheInUseException(Path directory) {
      super("the cache in " + directory + " is in use by another Cistern process");
    }
  }
}
