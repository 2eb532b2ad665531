package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Consumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Blobs and manifests in the cache: reads, downloads into it, and integrity checks. The files
 * are a {@link BlobStore}, their rows {@link BlobRows}, the byte cap a {@link DiskBudget} that
 * the {@link Evictor} holds; a {@link CacheDirectory} opens them all and builds this over them.
 *
 * <p>Blob hits touch no database: a blob is served by opening its file, checking its size
 * against the size recorded on it at publication ({@link RecordedSizes}), and the access is
 * recorded in memory. A manifest read from disk also reads its row, for its media type, and is
 * hashed; the proxy keeps hot manifests in memory in front of that. A file that fails either
 * check is never served: it is moved to {@code quarantine/} and the read is a miss. Downloads go
 * through {@link #reserve}, {@link #begin}, then {@link #publish} or {@link #abandon}.
 */
public final class BlobCache {

  private static final Logger log = LoggerFactory.getLogger(BlobCache.class);

  private final Path directory;
  private final Clock clock;
  private final BlobStore blobs;
  private final BlobRows rows;
  private final DiskBudget budget;
  private final RecordedSizes sizes;
  private final Quarantine quarantine;
  private final Executor callbacks;
  private final AtomicLong corruptOnRead = new AtomicLong();
  private final AccessTracker accesses;
  private final Evictor evictor;
  private final List<Consumer<List<Digest>>> evictionListeners;
  private final Set<PartialBlob> underway = ConcurrentHashMap.newKeySet();
  private final AtomicInteger manifestWrites = new AtomicInteger();
  private volatile boolean closing;
  /** A published file whose row could not be written was left behind: only recovery settles it. */
  private volatile boolean recoveryNeeded;
  /** Writes failing for a local reason (a full disk): logged when it begins and when it ends. */
  private final StorageFailures storageFailures;

  /**
   * @param evictionListeners the listeners the evictor and the quarantine tell of removed digests
   * @param callbacks where work off the caller's thread runs (a damaged file's row is dropped there)
   */
  BlobCache(Path directory, BlobStore blobs, BlobRows rows, DiskBudget budget, RecordedSizes sizes, Quarantine quarantine,
      AccessTracker accesses, Evictor evictor, List<Consumer<List<Digest>>> evictionListeners,
      StorageFailures storageFailures, Executor callbacks, Clock clock) {
    this.directory = directory;
    this.blobs = blobs;
    this.rows = rows;
    this.budget = budget;
    this.sizes = sizes;
    this.quarantine = quarantine;
    this.accesses = accesses;
    this.evictor = evictor;
    this.evictionListeners = evictionListeners;
    this.storageFailures = storageFailures;
    this.callbacks = callbacks;
    this.clock = clock;
  }

  public Path directory() {
    return directory;
  }

  /** Where a blob is (or would be) stored; for tools and tests. */
  public Path pathOf(Digest digest) {
    return blobs.pathOf(digest);
  }

  // ---- reading ----

  /**
   * Opens a cached blob and counts the access; empty on a miss. The caller closes the channel. A
   * file whose size is not the one it was published with is never handed out: it goes to
   * quarantine, and this is a miss.
   */
  public Optional<FileChannel> open(Digest digest) {
    Optional<FileChannel> opened = blobs.open(digest);
    if (opened.isEmpty()) {
      return opened;
    }
    FileChannel channel = opened.get();
    long size;
    try {
      size = channel.size();
    } catch (IOException e) {
      BlobStore.closeQuietly(channel);
      throw new UncheckedIOException("cannot stat blob " + digest, e);
    }
    if (!hasRecordedSize(digest, size)) {
      BlobStore.closeQuietly(channel);
      return Optional.empty();
    }
    recordAccess(digest);
    return opened;
  }

  /** The size of a cached blob, counting a HEAD as an access; empty on a miss (as {@link #open}). */
  public Optional<Long> sizeOf(Digest digest) {
    Optional<Long> size = blobs.sizeOf(digest);
    if (size.isEmpty() || !hasRecordedSize(digest, size.get())) {
      return Optional.empty();
    }
    recordAccess(digest);
    return size;
  }

  /** Whether a stored file's size is its recorded one; if not, the file is set aside (see {@link #setAside}). */
  private boolean hasRecordedSize(Digest digest, long size) {
    OptionalLong recorded = sizes.recorded(digest, blobs.pathOf(digest));
    if (recorded.isEmpty() || recorded.getAsLong() == size) {
      return true;
    }
    setAside(digest, size + " bytes on disk, " + recorded.getAsLong() + " recorded");
    return false;
  }

  public boolean contains(Digest digest) {
    return blobs.contains(digest);
  }

  /**
   * Reads a cached manifest, if what is stored at {@code digest} is one. Its size is checked
   * first: a larger file (a layer of gigabytes) is never read. The media type comes from its row,
   * or, when the row has none (the file was stored as a blob, or adopted by recovery), from the
   * document itself.
   */
  public ManifestLookup lookUpManifest(Digest digest) {
    Optional<Long> size = blobs.sizeOf(digest);
    if (size.isEmpty()) {
      return new ManifestLookup.Absent();
    }
    if (size.get() > Manifest.MAX_BYTES) {
      return new ManifestLookup.NotAManifest();
    }
    String mediaType = rows.find(digest).map(BlobRecord::mediaType).orElse(null);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(blobs.pathOf(digest));
    } catch (NoSuchFileException evicted) {
      return new ManifestLookup.Absent();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read manifest " + digest, e);
    }
    if (!digest.matches(bytes)) {
      // Small enough to hash on every read from disk; a damaged copy is fetched again.
      setAside(digest, "its bytes hash to " + Digest.of(digest.algorithm(), bytes));
      return new ManifestLookup.Absent();
    }
    if (mediaType == null) {
      try {
        mediaType = ManifestDocument.parse(bytes).mediaType();
      } catch (RegistryException notJson) {
        return new ManifestLookup.NotAManifest();
      }
      if (mediaType == null) {
        return new ManifestLookup.Absent();
      }
    }
    if (!MediaTypes.isManifest(mediaType)) {
      return new ManifestLookup.NotAManifest();
    }
    recordAccess(digest);
    return new ManifestLookup.Found(new Manifest(digest, mediaType, bytes));
  }

  /** A cached manifest (see {@link #lookUpManifest}); empty when none is stored at {@code digest}. */
  public Optional<Manifest> readManifest(Digest digest) {
    return lookUpManifest(digest) instanceof ManifestLookup.Found found ? Optional.of(found.manifest()) : Optional.empty();
  }

  /** Counts an access served from elsewhere (a manifest held in memory) toward the blob's LRU rank. */
  public void recordAccess(Digest digest) {
    accesses.record(digest, clock.millis());
  }

  // ---- integrity: damaged files, verification and the scrub ----

  /**
   * Sets aside a file a read found damaged: it is moved to quarantine now, on the reader's thread
   * (one rename, like the open before it), so that no one else is served it and a download can
   * publish the blob again; its row goes afterwards on the callbacks executor, unless the blob has
   * been published again by then (see {@link BlobRows#deleteIf}).
   *
   * @throws UncheckedIOException when the file cannot be moved: it must not be served either
   */
  private void setAside(Digest digest, String found) {
    corruptOnRead.incrementAndGet();
    Path moved;
    try {
      moved = quarantine.move(digest);
    } catch (IOException e) {
      throw new UncheckedIOException("blob " + digest + " is damaged (" + found + ") and cannot be moved to "
          + quarantineDirectory(), e);
    }
    if (moved == null) {
      return;
    }
    log.warn("blob {} is damaged ({}): moved to {}; a pull fetches it again while its upstream is online", digest, found,
        moved);
    try {
      callbacks.execute(() -> {
        try {
          quarantine.sync(digest);
          quarantine.dropRowIfGone(digest);
        } catch (IOException | RuntimeException e) {
          log.warn("the row of damaged blob {} stays until it is stored again or evicted: {}", digest, e.toString());
        }
      });
    } catch (RejectedExecutionException closing) {
      // The row stays, pointing at no file: the next download of the blob replaces it.
    }
  }

  /** Where files that failed a check are moved ({@code <cache>/quarantine}); Cistern never deletes them. */
  public Path quarantineDirectory() {
    return quarantine.directory();
  }

  /** How many damaged files reads have found (and set aside) since the cache was opened. */
  public long corruptBlobsFoundOnRead() {
    return corruptOnRead.get();
  }

  /** Up to {@code limit} stored blobs' rows in digest order, after {@code after} (null: from the first). */
  public List<BlobRecord> storedAfter(Digest after, int limit) {
    return rows.after(after == null ? "" : after.toString(), limit);
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
    Path file = blobs.pathOf(row.digest());
    BlobCheck check = BlobCheck.of(file, row.digest(), row.size(), reads);
    if (check.intact()) {
      sizes.recordIfAbsent(file, row.digest(), row.size());
    } else if (check.problem() == BlobCheck.Problem.MISSING && rows.find(row.digest()).isEmpty()) {
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

  // ---- writing ----

  /**
   * Claims room for a download of {@code bytes} before it starts; waits while the evictor frees
   * space. Fails with 507 when the blob is larger than the whole cap or its bytes would leave the
   * file system with less than {@code minFreeBytes} free, and with 503 when no room was freed
   * within the reservation timeout (everything else is pinned or still downloading).
   */
  public CompletableFuture<Reservation> reserve(long bytes) {
    return budget.reserve(bytes);
  }

  /**
   * Refuses (a 507 {@link RegistryException}) when the file system is short of
   * {@code minFreeBytes} already, so that a download is not even asked of the upstream. One
   * {@code statvfs}.
   */
  public void requireFreeDisk() {
    budget.requireFreeDisk();
  }

  /**
   * Starts a download into a temp file beside the blob's final place; refused once closing.
   *
   * @param reservation the download's claim on room, or null (unknown size). The download owns it
   *     from now on: its publication commits it, its abandon (or a failure here) releases it.
   * @throws LocalStorageException when the temp file cannot be created
   */
  public PartialBlob begin(Digest digest, long expectedSize, Reservation reservation) throws IOException {
    PartialBlob partial;
    try {
      Path temp = blobs.createPartial(digest);
      try {
        partial = new PartialBlob(digest, temp, blobs.pathOf(digest), expectedSize, reservation);
      } catch (IOException | RuntimeException e) {
        Files.deleteIfExists(temp);
        throw e;
      }
    } catch (IOException | RuntimeException e) {
      if (reservation != null) {
        release(reservation);
      }
      if (e instanceof IOException io) {
        throw storageFailed(new LocalStorageException("cannot create a temp file for " + digest, io));
      }
      throw e;
    }
    // Registered before `closing` is read, while refuseWrites() sets `closing` before it reads the set:
    // one of the two sees the other, so no temp file outlives a stop marked clean.
    underway.add(partial);
    if (closing) {
      IOException refused = new IOException("the cache is closing");
      abandon(partial, refused);
      throw refused;
    }
    return partial;
  }

  /**
   * Verifies, syncs and renames a finished download into place, records it, and only then tells
   * its readers it is published. On any failure the download is abandoned and the exception
   * thrown. A download abandoned before this call (a stop) stays abandoned: an IOException says so.
   */
  public void publish(PartialBlob partial) throws IOException {
    if (!partial.claimPublication()) {
      throw new IOException("the download of " + partial.digest() + " was abandoned before it could be published");
    }
    try {
      partial.verifyAndSync();
      publishAndRecord(partial.tempPath(), partial.digest(), partial.written(), null, List.of(), partial.reservation());
      partial.markPublished();
    } catch (IOException | RuntimeException e) {
      end(partial, e);
      throw e;
    }
    storageWorks();
    // Only now: while it is in the set, a stop is not marked clean (see close()).
    underway.remove(partial);
  }

  /**
   * Gives up a download: its temp file goes, its reservation is released, its readers fail. A
   * download whose publication has begun is left to finish (it is verified already), and one that
   * has ended is left as it is.
   */
  public void abandon(PartialBlob partial, Throwable cause) {
    if (partial.claimAbandon()) {
      end(partial, cause);
    }
  }

  private void end(PartialBlob partial, Throwable cause) {
    LocalStorageException.in(cause).ifPresent(this::storageFailed);
    partial.fail(cause);
    if (partial.reservation() != null) {
      release(partial.reservation());
    }
    underway.remove(partial);
  }

  /** Gives back a reservation whose download never began. */
  public void release(Reservation reservation) {
    reservation.release();
    budget.admitWaiting();
  }

  /** Stores a verified manifest (small: written in one go, atomically). Refused once closing. */
  public void storeManifest(Manifest manifest) {
    if (!manifest.digest().matches(manifest.bytes())) {
      throw new IllegalArgumentException("manifest bytes do not match " + manifest.digest());
    }
    // Counted as under way, with the same handshake as begin(), so that a stop is not marked
    // clean while it could still leave a file without a row.
    manifestWrites.incrementAndGet();
    try {
      if (closing) {
        throw new IOException("the cache is closing");
      }
      Path temp;
      try {
        temp = blobs.writePartial(manifest.digest(), manifest.bytes());
      } catch (IOException e) {
        throw storageFailed(new LocalStorageException("cannot write manifest " + manifest.digest(), e));
      }
      try {
        publishAndRecord(temp, manifest.digest(), manifest.bytes().length, manifest.mediaType(),
            ManifestReferences.of(manifest.bytes()), null);
      } catch (IOException | RuntimeException e) {
        LocalStorageException.in(e).ifPresent(this::storageFailed);
        Files.deleteIfExists(temp);
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot store manifest " + manifest.digest(), e);
    } finally {
      manifestWrites.decrementAndGet();
    }
    storageWorks();
  }

  /**
   * Renames a complete, synced temp file into place and records it. If anything fails after the
   * rename, the file is unlinked again: with no row it would sit outside the byte budget, where
   * no eviction can see it. Only if even that fails is it left to recovery, and then this run's
   * stop is not marked clean, so that recovery runs.
   */
  private void publishAndRecord(Path temp, Digest digest, long size, String mediaType, List<Digest> references,
      Reservation reservation) throws IOException {
    sizes.record(temp, digest, size);
    try {
      blobs.rename(temp, digest);
    } catch (IOException e) {
      throw new LocalStorageException("cannot move " + digest + " into place", e);
    }
    try {
      try {
        blobs.syncDirectoryOf(digest);
      } catch (IOException e) {
        throw new LocalStorageException("cannot sync the directory of " + digest, e);
      }
      recordStored(digest, size, mediaType, references, reservation);
    } catch (IOException | RuntimeException e) {
      try {
        // If an earlier copy of these bytes had a row, that row now has no file: the next read
        // misses and fetches again, and eviction drops such a row like any other.
        blobs.delete(digest);
      } catch (IOException | RuntimeException undeletable) {
        e.addSuppressed(undeletable);
        recoveryNeeded = true;
      }
      throw e;
    }
  }

  private void recordStored(Digest digest, long size, String mediaType, List<Digest> references, Reservation reservation) {
    long replaced = rows.insert(digest, size, mediaType, references, clock.millis());
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

  /**
   * Refuses writes from now on, and says whether a stop now leaves nothing for recovery to
   * settle: no download or manifest write under way (one could still leave its temp file, or
   * rename its file into place without a row), and no published file left without its row.
   */
  boolean refuseWrites() {
    // Set before the writes under way are counted, while begin() registers a download before it
    // reads `closing`: one of the two sees the other, so no temp file outlives a stop marked clean.
    closing = true;
    int writes = underway.size() + manifestWrites.get();
    if (writes > 0) {
      log.info("closed with {} writes under way: the next start checks the cache", writes);
      return false;
    }
    if (recoveryNeeded) {
      log.warn("closed with a published file left without its row: the next start checks the cache");
      return false;
    }
    return true;
  }

  private LocalStorageException storageFailed(LocalStorageException failure) {
    return storageFailures.failed(failure);
  }

  private void storageWorks() {
    storageFailures.worked();
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
}
