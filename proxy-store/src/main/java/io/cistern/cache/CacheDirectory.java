package io.cistern.cache;

import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import io.cistern.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.List;
import java.util.OptionalLong;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A cache directory, open: its lifecycle, and the parts of the cache built over it. What callers
 * use are those parts: {@link #blobs} (reads, downloads, integrity), {@link #tags},
 * {@link #referrers} and the {@link #catalog} of images that operators steer.
 *
 * <p>One process owns a cache directory at a time ({@code cistern.lock}), so there is one writer
 * to its SQLite file. A run that ends through {@link #close} with no write under way leaves a
 * clean-stop marker; a start without it runs {@link Recovery} first. A start that finds the
 * database lost (missing, empty or corrupt: {@link MetadataFile}) while files are stored rebuilds
 * it from them, whatever the marker says. An older schema is upgraded on open
 * ({@link SchemaMigrations}); the upgrade from schema 1 reads the manifests' files, so it runs
 * here, after recovery has settled which files there are.
 */
public final class CacheDirectory implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(CacheDirectory.class);
  static final String LOCK_FILE = "cistern.lock";
  static final String CLEAN_STOP_MARKER = "clean-stop";
  static final String DATABASE_FILE = "metadata.db";
  /**
   * Verified downloads made durable at once: fsyncs wait on the disk, not the CPU, and two let a
   * small blob become durable beside a large one's fsync without a thread per download.
   */
  private static final int DURABILITY_THREADS = 2;
  /** How long a stop waits for verified downloads still being made durable before it stops unclean. */
  private static final long DURABILITY_GRACE_SECONDS = 30;

  private final Path path;
  private final FileChannel lockChannel;
  private final FileLock lock;
  private final MetadataDatabase database;
  /** What opening the database found: how it was lost (or null), and what its schema needs. */
  private final MetadataFile.Opened opened;
  private final DiskTier files;
  private final BlobRows blobRows;
  private final DiskBudget budget;
  private final Quarantine quarantine;
  private final Evictor evictor;
  private final ContentReads reads;
  private final BlobCache blobs;
  private final Tags tags;
  private final Referrers referrers;
  private final ImageCatalog catalog;
  /** The durability executor this cache started and stops; null when it was handed one. */
  private final ExecutorService ownDurability;

  private CacheDirectory(CacheSettings settings, Clock clock, Executor callbacks, MetricsTrackerFactory poolMetrics,
      EvictorObserver observer, Executor durability, FileChannel lockChannel, FileLock lock) throws IOException {
    // Before the database opens: a failure past that point would leave its pool running.
    FileStore disk = Files.getFileStore(settings.directory());
    this.path = settings.directory();
    this.lockChannel = lockChannel;
    this.lock = lock;
    // The tier checks files against sizes from their rows, and hands damaged ones to the reads,
    // both built below: it asks for either only once a read runs, after this constructor.
    this.files = new DiskTier(path.resolve("blobs"), this::rowSize, this::setAside);
    // The quick check reads the whole file: only after an unclean stop, when recovery runs anyway.
    this.opened = MetadataFile.open(path.resolve(DATABASE_FILE), settings.poolSize(), poolMetrics,
        !Files.exists(path.resolve(CLEAN_STOP_MARKER)), clock);
    this.database = opened.database();
    this.blobRows = new BlobRows(database);
    this.budget = new DiskBudget(settings.maxBytes(), settings.lowWaterBytes(), settings.reservationTimeout(),
        this::pokeEvictor, callbacks, disk, settings.minFreeBytes());
    AccessTracker accesses = new AccessTracker();
    // Told by the evictor and the quarantine; listened to through blobs().onEviction.
    List<Consumer<List<Digest>>> removalListeners = new CopyOnWriteArrayList<>();
    Consumer<List<Digest>> removed = digests -> removalListeners.forEach(listener -> listener.accept(digests));
    this.evictor = new Evictor(database, files, budget, accesses, settings.accessFlushInterval(), removed, observer);
    this.quarantine = new Quarantine(path, files, blobRows, budget, clock, removed);
    // One log of local storage failures for every write on a request path: a full disk is one episode.
    StorageFailures storageFailures = new StorageFailures();
    this.reads = new ContentReads(files, blobRows, quarantine, accesses, clock, callbacks);
    // Fixed pools start their threads only when first used: an idle cache runs none.
    this.ownDurability = durability == null ? Executors.newFixedThreadPool(DURABILITY_THREADS, task -> {
      Thread thread = new Thread(task, "cistern-durable");
      thread.setDaemon(true);
      return thread;
    }) : null;
    ContentWrites writes = new ContentWrites(files, blobRows, budget, clock, storageFailures, this::pokeEvictor,
        durability == null ? ownDurability : durability);
    this.blobs = new BlobCache(path, files, blobRows, budget, quarantine, evictor, removalListeners, reads, writes);
    this.tags = new Tags(new TagRows(database), storageFailures);
    this.referrers = new Referrers(new ReferrerRows(database), storageFailures);
    this.catalog = new ImageCatalog(new ImageGraph(database), new ImageListings(database), new EvictionQueries(database),
        tags, evictor, accesses, clock);
  }

  /**
   * As {@link #open(CacheSettings, Clock, Executor)}, with waiting reservations answered on the
   * common pool: for tools and tests that run no executor of their own.
   */
  public static CacheDirectory open(CacheSettings settings, Clock clock) {
    return open(settings, clock, ForkJoinPool.commonPool());
  }

  /** As {@link #open(CacheSettings, Clock, Executor, MetricsTrackerFactory)}, with the pools' metrics going nowhere. */
  public static CacheDirectory open(CacheSettings settings, Clock clock, Executor callbacks) {
    return open(settings, clock, callbacks, null);
  }

  /**
   * Opens the cache in {@code settings.directory()}, recovering from an unclean stop, and starts
   * its evictor.
   *
   * @param callbacks where a reservation that had to wait for room continues (whatever the caller
   *     chained to it), so that it never runs on the evictor thread
   * @param poolMetrics where the metadata database's connection pools report (Hikari's metrics:
   *     borrows, waits, timeouts), or null
   * @throws CacheInUseException when another process has the directory open
   */
  public static CacheDirectory open(CacheSettings settings, Clock clock, Executor callbacks,
      MetricsTrackerFactory poolMetrics) {
    return open(settings, clock, callbacks, poolMetrics, EvictorObserver.NONE, null);
  }

  /**
   * As {@link #open(CacheSettings, Clock, Executor, MetricsTrackerFactory)}, with the evictor's
   * turns told to {@code observer}, and verified downloads made durable on {@code durability}
   * (null: on threads of the cache's own, which a close lets finish).
   */
  static CacheDirectory open(CacheSettings settings, Clock clock, Executor callbacks, MetricsTrackerFactory poolMetrics,
      EvictorObserver observer, Executor durability) {
    Path directory = settings.directory();
    FileChannel lockChannel = null;
    CacheDirectory opened = null;
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
        throw new CacheInUseException(directory);
      }
      opened = new CacheDirectory(settings, clock, callbacks, poolMetrics, observer, durability, lockChannel, lock);
      opened.start();
      return opened;
    } catch (IOException | RuntimeException e) {
      // Whatever failed (a newer schema, a failed recovery, a database that will not open), the
      // next open must find the directory unlocked and no pool or evictor left running.
      if (opened != null) {
        opened.shutDown(false);
      } else {
        DiskTier.closeQuietly(lockChannel);
      }
      if (e instanceof IOException io) {
        throw new UncheckedIOException("cannot open the cache in " + directory, io);
      }
      throw (RuntimeException) e;
    }
  }

  /**
   * Whether {@code directory} holds a cache (a metadata database, or stored files whose database
   * was lost), without opening or creating it.
   */
  public static boolean existsIn(Path directory) {
    return Files.isRegularFile(directory.resolve(DATABASE_FILE)) || Files.isDirectory(directory.resolve("blobs"));
  }

  private void start() throws IOException {
    boolean cleanStop = Files.deleteIfExists(path.resolve(CLEAN_STOP_MARKER));
    if (cleanStop) {
      // Durable before anything changes: a marker brought back by a power cut would skip recovery.
      DiskTier.fsyncDirectory(path);
    }
    Recovery recovery = new Recovery(files, blobRows, quarantine);
    if (opened.loss() != null) {
      // Without files it is a new cache (or a corrupt database, moved aside, with nothing to rebuild).
      if (files.holdsFiles()) {
        recovery.rebuild(opened.loss());
      }
    } else if (!cleanStop) {
      recovery.run();
    }
    if (opened.schema().referencesToRecord()) {
      SchemaMigrations.recordOlderReferences(database, files::pathOf);
    }
    long[] totals = blobRows.totals();
    budget.initialise(totals[0], totals[1]);
    evictor.start();
    evictor.pokeIfOverCap();
  }

  private void pokeEvictor() {
    evictor.poke();
  }

  private OptionalLong rowSize(Digest digest) {
    return blobRows.find(digest).map(row -> OptionalLong.of(row.size())).orElse(OptionalLong.empty());
  }

  private void setAside(Digest digest, String found) {
    reads.setAside(digest, found);
  }

  public Path path() {
    return path;
  }

  /** Blobs and manifests: reads, downloads into the cache, and integrity checks. */
  public BlobCache blobs() {
    return blobs;
  }

  public Tags tags() {
    return tags;
  }

  public Referrers referrers() {
    return referrers;
  }

  /** Images as operators steer them: pins, purges, listings. */
  public ImageCatalog catalog() {
    return catalog;
  }

  /** Checks the metadata database answers (for readiness probes); throws a {@link MetadataException} if not. */
  public void pingMetadata() {
    database.ping();
  }

  /**
   * Lets verified downloads finish becoming durable (for up to half a minute), then stops the
   * evictor (flushing access times) and closes the database. The stop is marked clean only if no
   * write was under way and none left a file without a row behind (see
   * {@link BlobCache#refuseWrites}); the next start's recovery settles all of these.
   */
  @Override
  public void close() {
    finishDurableWrites();
    shutDown(blobs.refuseWrites());
  }

  private void finishDurableWrites() {
    if (ownDurability == null) {
      return;
    }
    ownDurability.shutdown();
    try {
      if (!ownDurability.awaitTermination(DURABILITY_GRACE_SECONDS, TimeUnit.SECONDS)) {
        log.warn("stopping while verified downloads are still being made durable: the next start checks the cache");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  /** Stops the evictor and closes the database, marking a clean stop if asked; always gives up the lock. */
  private void shutDown(boolean markClean) {
    if (ownDurability != null) {
      ownDurability.shutdown();
    }
    try {
      evictor.close();
      database.close();
      if (markClean) {
        Files.writeString(path.resolve(CLEAN_STOP_MARKER), "clean\n");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot mark a clean stop in " + path, e);
    } finally {
      try {
        lock.release();
      } catch (IOException ignored) {
        // Closing the channel releases the lock too.
      }
      DiskTier.closeQuietly(lockChannel);
    }
  }

  /** Another process (a running server, or a CLI command) has this cache directory open. */
  public static final class CacheInUseException extends IllegalStateException {
    CacheInUseException(Path directory) {
      super("the cache in " + directory + " is in use by another Cistern process");
    }
  }
}
