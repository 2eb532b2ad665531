package io.cistern.cache;

import io.cistern.oci.Descriptor;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.channels.FileLock;
import java.nio.channels.OverlappingFileLockException;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pull-through cache's storage: blobs and manifests in the local tier ({@link DiskTier}),
 * metadata in SQLite ({@link MetadataStore}), the byte cap ({@link DiskBudget}) and its evictor.
 *
 * <p>Reads ({@link ContentReads}): blob hits touch no database: a blob is served by opening its
 * file, checking its size against the size recorded on it at publication, and the access is
 * recorded in memory. A manifest read from disk also reads its row, for its media type, and is
 * hashed; the proxy keeps hot manifests in memory in front of that. A file that fails either
 * check is never served: it is moved to {@code quarantine/} and the read is a miss. Writes
 * ({@link ContentWrites}): a download is one {@link Ingest}, asked for with {@link #ingest};
 * manifests are stored with {@link #storeManifest}.
 *
 * <p>One process owns a cache directory at a time ({@code cistern.lock}), so there is one writer
 * to its SQLite file. A run that ends through {@link #close} with no download under way leaves a
 * clean-stop marker; a start without it runs {@link Recovery} first. A start that finds the
 * database lost (missing, empty or corrupt: {@link MetadataFile}) while files are stored rebuilds
 * it from them, whatever the marker says.
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
  private final DiskTier blobs;
  private final MetadataStore metadata;
  private final DiskBudget budget;
  private final Quarantine quarantine;
  private final AccessTracker accesses = new AccessTracker();
  private final Evictor evictor;
  private final List<Consumer<List<Digest>>> evictionListeners = new CopyOnWriteArrayList<>();
  private final ContentReads reads;
  private final ContentWrites writes;
  private final List<Consumer<TagKey>> tagListeners = new CopyOnWriteArrayList<>();
  /** Writes failing for a local reason (a full disk): logged when it begins and when it ends. */
  private final StorageFailures failures = new StorageFailures();
  /** How the database was lost (missing, empty, corrupt), or null when it was found whole. */
  private final String databaseLoss;

  private BlobCache(CacheSettings settings, Clock clock, Executor callbacks, FileChannel lockChannel, FileLock lock)
      throws IOException {
    // Before the database opens: a failure past that point would leave its pool running.
    FileStore disk = Files.getFileStore(settings.directory());
    this.settings = settings;
    this.clock = clock;
    this.lockChannel = lockChannel;
    this.lock = lock;
    this.blobs = new DiskTier(settings.directory().resolve("blobs"), this::rowSize, this::setAside);
    // The quick check reads the whole file: only after an unclean stop, when recovery runs anyway.
    MetadataFile.Opened database = MetadataFile.open(settings.directory().resolve(DATABASE_FILE), settings.poolSize(),
        !Files.exists(settings.directory().resolve(CLEAN_STOP_MARKER)), clock);
    this.metadata = database.store();
    this.databaseLoss = database.loss();
    this.budget = new DiskBudget(settings.maxBytes(), settings.lowWaterBytes(), settings.reservationTimeout(),
        this::pokeEvictor, callbacks, disk, settings.minFreeBytes());
    this.evictor = new Evictor(metadata, blobs, budget, accesses, settings.accessFlushInterval(),
        digests -> evictionListeners.forEach(listener -> listener.accept(digests)));
    this.quarantine = new Quarantine(settings.directory(), blobs, metadata, budget, clock,
        digests -> evictionListeners.forEach(listener -> listener.accept(digests)));
    this.reads = new ContentReads(blobs, metadata, quarantine, accesses, clock, callbacks);
    this.writes = new ContentWrites(blobs, metadata, budget, clock, failures, this::pokeEvictor);
  }

  private OptionalLong rowSize(Digest digest) {
    return metadata.findBlob(digest).map(row -> OptionalLong.of(row.size())).orElse(OptionalLong.empty());
  }

  /** The tier's hook for a damaged file; called only by reads, so never before construction ends. */
  private void setAside(Digest digest, String found) {
    reads.setAside(digest, found);
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
    BlobCache cache = null;
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
      cache = new BlobCache(settings, clock, callbacks, lockChannel, lock);
      cache.start();
      return cache;
    } catch (IOException | RuntimeException e) {
      // Whatever failed (a newer schema, a failed recovery, a database that will not open), the
      // next open must find the directory unlocked and no pool or evictor left running.
      if (cache != null) {
        cache.shutDown(false);
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
    Path marker = settings.directory().resolve(CLEAN_STOP_MARKER);
    boolean cleanStop = Files.deleteIfExists(marker);
    if (cleanStop) {
      // Durable before anything changes: a marker brought back by a power cut would skip recovery.
      DiskTier.fsyncDirectory(settings.directory());
    }
    Recovery recovery = new Recovery(blobs, metadata, quarantine);
    if (databaseLoss != null) {
      // Without files it is a new cache (or a corrupt database, moved aside, with nothing to rebuild).
      if (blobs.holdsFiles()) {
        recovery.rebuild(databaseLoss);
      }
    } else if (!cleanStop) {
      recovery.run();
    }
    if (metadata.referencesToRecord()) {
      recordOlderReferences();
    }
    long[] totals = metadata.totals();
    budget.initialise(totals[0], totals[1]);
    evictor.start();
    if (budget.needsEviction()) {
      evictor.poke();
    }
  }

  /**
   * The upgrade to schema 2: records what each manifest stored before it refers to, read from the
   * manifest files. Runs once; a crash half-way runs it again (the inserts are idempotent).
   */
  private void recordOlderReferences() throws IOException {
    Map<Digest, List<Digest>> references = new LinkedHashMap<>();
    for (Digest manifest : metadata.manifestsToRecord()) {
      try {
        references.put(manifest, referencesOf(Files.readAllBytes(blobs.pathOf(manifest))));
      } catch (NoSuchFileException gone) {
        // Its row goes at the next recovery; nothing to record.
      }
    }
    metadata.recordReferences(references);
    metadata.finishMigration();
  }

  /** The digests a manifest refers to (config, layers, child manifests); none if it is not one. */
  static List<Digest> referencesOf(byte[] manifest) {
    List<Descriptor> descriptors;
    try {
      descriptors = ManifestDocument.parse(manifest).references();
    } catch (RegistryException notAManifest) {
      return List.of();
    }
    List<Digest> references = new ArrayList<>(descriptors.size());
    for (Descriptor descriptor : descriptors) {
      try {
        references.add(descriptor.parsedDigest());
      } catch (RegistryException badDigest) {
        // An upstream's malformed descriptor: nothing a pull could fetch by it either.
      }
    }
    return references;
  }

  public Path directory() {
    return settings.directory();
  }

  /** Where a blob is (or would be) stored; for tools and tests. */
  public Path pathOf(Digest digest) {
    return blobs.pathOf(digest);
  }

  // ---- reading ----

  /**
   * Opens a cached blob, whole, and counts the access; empty on a miss. The caller closes the
   * content: the region of an open file, which stays readable whatever eviction does meanwhile. A
   * file whose size is not the one it was published with is never handed out: it goes to
   * quarantine, and this is a miss.
   */
  public Optional<BlobContent.FileRegion> open(Digest digest) {
    return reads.open(digest);
  }

  /** The size of a cached blob, counting a HEAD as an access; empty on a miss (as {@link #open}). */
  public Optional<Long> sizeOf(Digest digest) {
    return reads.sizeOf(digest);
  }

  public boolean contains(Digest digest) {
    return blobs.contains(digest);
  }

  /**
   * Reads a cached manifest, if what is stored at {@code digest} is one. Its size is checked
   * first: a larger file (a layer of gigabytes) is never read. The media type comes from its row,
   * or, when the row has none (the file was stored as a blob, or adopted by recovery), from the
   * document itself. A file whose bytes do not hash to its digest is set aside, and this is a miss.
   */
  public ManifestLookup lookUpManifest(Digest digest) {
    return reads.lookUpManifest(digest);
  }

  /** A cached manifest (see {@link #lookUpManifest}); empty when none is stored at {@code digest}. */
  public Optional<Manifest> readManifest(Digest digest) {
    return lookUpManifest(digest) instanceof ManifestLookup.Found found ? Optional.of(found.manifest()) : Optional.empty();
  }

  /** Counts an access served from elsewhere (a manifest held in memory) toward the blob's LRU rank. */
  public void recordAccess(Digest digest) {
    reads.recordAccess(digest);
  }

  // ---- integrity: damaged files, verification and the scrub ----

  /** Where files that failed a check are moved ({@code <cache>/quarantine}); Cistern never deletes them. */
  public Path quarantineDirectory() {
    return quarantine.directory();
  }

  /** How many damaged files reads have found (and set aside) since the cache was opened. */
  public long corruptBlobsFoundOnRead() {
    return reads.corruptBlobsFoundOnRead();
  }

  /** Up to {@code limit} stored blobs' rows in digest order, after {@code after} (null: from the first). */
  public List<BlobRecord> storedAfter(Digest after, int limit) {
    return metadata.blobsAfter(after == null ? "" : after.toString(), limit);
  }

  /**
   * Reads a stored blob back and checks its size and digest against its row ({@link BlobCheck}),
   * holding no lock and no connection while it reads. A whole file that has no size recorded on it
   * (stored by an older Cistern, or adopted) gets one.
   *
   * @return empty when the blob is no longer stored: its file and row went (an eviction, a purge)
   *     since {@code row} was read
   */
  public Optional<BlobCheck> check(BlobRecord row, BlobCheck.Reads reads) throws InterruptedException {
    BlobCheck check = BlobCheck.of(blobs.pathOf(row.digest()), row.digest(), row.size(), reads);
    if (check.intact()) {
      blobs.recordSizeIfAbsent(row.digest(), row.size());
    } else if (check.problem() == BlobCheck.Problem.MISSING && metadata.findBlob(row.digest()).isEmpty()) {
      return Optional.empty();
    }
    return Optional.of(check);
  }

  /**
   * What {@link #repair} did.
   *
   * @param quarantined where the damaged file went, or null (there was none)
   * @param rowDropped whether its row (with the tags and links that die with it) was dropped
   * @param replacedMeanwhile a newer copy was published in place of the file checked: it is left
   *     alone, and nothing was done
   */
  public record Repair(Path quarantined, boolean rowDropped, boolean replacedMeanwhile) {}

  /**
   * Acts on a check that failed: the file checked is moved to quarantine, never deleted, and its
   * row is dropped unless the blob has been published again meanwhile, so that the next pull
   * fetches it again; a row without a file is dropped. A file in its place that is not the one
   * checked (a newer copy, published since) is put back and left alone.
   */
  public Repair repair(BlobCheck check) throws IOException {
    return quarantine.repair(check);
  }

  /** The upstreams whose repositories hold {@code digest} (or a manifest that refers to it), as recorded. */
  public Set<String> upstreamsHolding(Digest digest) {
    return metadata.upstreamsHolding(digest);
  }

  // ---- writing ----

  /**
   * Starts a download of {@code digest} into the cache once there is room for it: its
   * {@code expectedSize} bytes (when announced) are claimed against the cap first, waiting while
   * the evictor frees space, and its temp file is created. A claim that had to wait continues on
   * the callbacks executor. Fails with {@link TooLargeForCacheException} when the blob is larger
   * than the whole cap, {@link NoRoomOnDiskException} when its bytes would leave the file system
   * with less than {@code minFreeBytes} free, {@link NoRoomException} when no room was freed within
   * the reservation timeout (everything else is pinned or still downloading), and
   * {@link LocalStorageException} when the temp file cannot be created; once closing, with an
   * IOException.
   *
   * @param expectedSize the size the upstream announced, or -1 (unknown: nothing is claimed, and
   *     the bytes are counted when they land)
   */
  public CompletableFuture<Ingest> ingest(Digest digest, long expectedSize) {
    return writes.ingest(digest, expectedSize);
  }

  /**
   * Refuses ({@link NoRoomOnDiskException}) when the file system is short of {@code minFreeBytes}
   * already, so that a download is not even asked of the upstream. One {@code statvfs}.
   */
  public void requireFreeDisk() {
    writes.requireFreeDisk();
  }

  /** Stores a verified manifest (small: written in one go, atomically). Refused once closing. */
  public void storeManifest(Manifest manifest) {
    writes.storeManifest(manifest, referencesOf(manifest.bytes()));
  }

  // ---- tags and repositories ----

  public Optional<TagMapping> findTag(TagKey key) {
    return metadata.findTag(key);
  }

  public void putTag(TagMapping mapping) {
    recording(() -> metadata.putTag(mapping));
  }

  /**
   * Points a tag at a manifest on an operator's behalf (an import), and tells the tag listeners,
   * so that a running server drops what it remembered of the tag.
   */
  public void replaceTag(TagMapping mapping) {
    metadata.putTag(mapping);
    tagListeners.forEach(listener -> listener.accept(mapping.key()));
  }

  /** Registers a callback told of tags an operator changed or removed (to drop them from memory caches). */
  public void onTagChange(Consumer<TagKey> listener) {
    tagListeners.add(listener);
  }

  public void linkManifest(String upstream, RepositoryName repository, Digest digest) {
    recording(() -> metadata.linkManifest(upstream, repository, digest));
  }

  /** Runs a metadata write on a request path, noting a local storage failure before it is rethrown. */
  private void recording(Runnable write) {
    try {
      write.run();
    } catch (MetadataStore.MetadataException e) {
      failures.noteIfLocal(e);
      throw e;
    }
  }

  public List<String> tagsOf(String upstream, RepositoryName repository) {
    return metadata.tagsOf(upstream, repository);
  }

  // ---- images: a manifest and everything it refers to ----

  /**
   * Pins an image: the manifest and everything it refers to that is stored, and whatever of it is
   * stored later, are never evicted (until {@link #unpinImage}).
   */
  public ImageContent pinImage(Digest manifest) {
    return content(metadata.pinImage(manifest, clock.millis()));
  }

  /** Unpins an image; content another pinned image refers to stays pinned. */
  public ImageContent unpinImage(Digest manifest) {
    ImageContent content = content(metadata.unpinImage(manifest));
    if (budget.needsEviction()) {
      pokeEvictor();
    }
    return content;
  }

  public boolean isPinnedImage(Digest manifest) {
    return metadata.isPinnedImage(manifest);
  }

  /** What is stored of an image, by its manifest's digest. */
  public ImageContent imageContent(Digest manifest) {
    return content(metadata.imageRows(manifest));
  }

  private static ImageContent content(MetadataStore.ImageRows rows) {
    return new ImageContent(rows.stored().size(), rows.bytes(), rows.missing());
  }

  /**
   * Removes an image: its manifest, with its tags and repository links, and whatever it refers to
   * that no other stored manifest, tag or pin still needs. Rows go first, then files, as in an
   * eviction pass, and the bytes leave the budget.
   *
   * @throws PinnedImageException when the manifest is pinned (or part of a pinned image)
   */
  public Removal purgeImage(Digest manifest) {
    List<BlobRecord> deleted = metadata.deleteImage(manifest);
    if (deleted == null) {
      throw new PinnedImageException(manifest);
    }
    return removed(deleted);
  }

  /**
   * Removes a tag; the manifest it pointed at, and what that refers to, go too unless another tag
   * or repository still refers to the manifest.
   *
   * @return empty when there is no such tag
   * @throws PinnedImageException when the image would go but is pinned (the tag is gone already)
   */
  public Optional<Removal> purgeTag(TagKey key) {
    Optional<MetadataStore.UntaggedManifest> untagged = metadata.deleteTag(key);
    untagged.ifPresent(ignored -> tagListeners.forEach(listener -> listener.accept(key)));
    return untagged.map(manifest -> manifest.stillReferenced() ? Removal.NOTHING : purgeImage(manifest.digest()));
  }

  /**
   * Removes every unpinned blob and manifest last read before {@code cutoff}, oldest first, in
   * batches as eviction does: a blob read since the last access flush counts as read now.
   */
  public Removal purgeOlderThan(Instant cutoff) {
    Removal total = Removal.NOTHING;
    long afterAccess = Long.MIN_VALUE;
    String afterDigest = "";
    while (true) {
      List<BlobRecord> page = metadata.unpinnedOlderThan(cutoff.toEpochMilli(), afterAccess, afterDigest,
          MetadataStore.WRITE_BATCH);
      if (page.isEmpty()) {
        return total;
      }
      BlobRecord last = page.get(page.size() - 1);
      afterAccess = last.lastAccess();
      afterDigest = last.digest().toString();
      List<BlobRecord> untouched = page.stream().filter(record -> !accesses.contains(record.digest())).toList();
      total = total.plus(removed(metadata.deleteUnchanged(untouched)));
    }
  }

  private Removal removed(List<BlobRecord> deleted) {
    evictor.unlinkDeleted(deleted);
    budget.admitWaiting();
    return new Removal(deleted.size(), deleted.stream().mapToLong(BlobRecord::size).sum());
  }

  /**
   * Cached images in (upstream, repository, tag) order, each with what is stored of it.
   *
   * @param upstream only this upstream's, or null for all
   * @param repository only this repository's (with {@code upstream}), or null
   */
  public List<CachedImage> images(String upstream, RepositoryName repository, int limit) {
    List<CachedImage> images = new ArrayList<>();
    for (MetadataStore.ImageEntry entry : metadata.images(upstream, repository, limit)) {
      MetadataStore.ImageRows rows = metadata.imageRows(entry.digest());
      BlobRecord manifest = rows.stored().isEmpty() || !rows.stored().get(0).digest().equals(entry.digest())
          ? null
          : rows.stored().get(0);
      Long buffered = accesses.latest(entry.digest());
      long lastAccess = Math.max(manifest == null ? 0 : manifest.lastAccess(), buffered == null ? 0 : buffered);
      images.add(new CachedImage(entry.upstream(), entry.repository(), entry.tag(), entry.digest(),
          manifest == null ? null : manifest.mediaType(), rows.bytes(), rows.stored().size(), rows.missing(),
          Instant.ofEpochMilli(lastAccess), manifest != null && manifest.pinned()));
    }
    return images;
  }

  /** The repositories holding the most bytes (an aggregate over all of them: not for hot paths). */
  public List<RepositoryUsage> topRepositories(int limit) {
    return metadata.topRepositories(limit);
  }

  /** How many stored blobs and manifests are pinned, and their bytes. */
  public ImageContent pinned() {
    long[] totals = metadata.pinnedTotals();
    return new ImageContent((int) totals[0], totals[1], 0);
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
   * only if no download or manifest write was under way (one could still leave its temp file, or
   * rename its file into place without a row) and none left a file without a row behind; the next
   * start's recovery settles all of these.
   */
  @Override
  public void close() {
    writes.close();
    shutDown(true);
  }

  /** Stops the evictor and closes the database, marking a clean stop if asked and nothing forbids it. */
  private void shutDown(boolean markClean) {
    int underWay = writes.underWay();
    try {
      evictor.close();
      metadata.close();
      if (!markClean) {
        return;
      }
      if (underWay > 0) {
        log.info("closed with {} writes under way: the next start checks the cache", underWay);
      } else if (writes.recoveryNeeded()) {
        log.warn("closed with a published file left without its row: the next start checks the cache");
      } else {
        Files.writeString(settings.directory().resolve(CLEAN_STOP_MARKER), "clean\n");
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot mark a clean stop in " + settings.directory(), e);
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
