package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;

/**
 * Blobs and manifests in the cache: reads, downloads into it, and integrity checks. The files are
 * the local tier ({@link DiskTier}), their rows {@link BlobRows}, the byte cap a
 * {@link DiskBudget} that the {@link Evictor} holds; a {@link CacheDirectory} opens them all and
 * builds this over them.
 *
 * <p>Reads ({@link ContentReads}): blob hits touch no database: a blob is served by opening its
 * file, checking its size against the size recorded on it at publication, and the access is
 * recorded in memory. A manifest read from disk also reads its row, for its media type, and is
 * hashed; the proxy keeps hot manifests in memory in front of that. A file that fails either
 * check is never served: it is moved to {@code quarantine/} and the read is a miss. Writes
 * ({@link ContentWrites}): a download is one {@link Ingest}, asked for with {@link #ingest};
 * manifests are stored with {@link #storeManifest}.
 */
public final class BlobCache {

  private final Path directory;
  private final DiskTier blobs;
  private final BlobRows rows;
  private final DiskBudget budget;
  private final Quarantine quarantine;
  private final Evictor evictor;
  private final List<Consumer<List<Digest>>> evictionListeners;
  private final ContentReads reads;
  private final ContentWrites writes;

  /** @param evictionListeners the listeners the evictor and the quarantine tell of removed digests */
  BlobCache(Path directory, DiskTier blobs, BlobRows rows, DiskBudget budget, Quarantine quarantine, Evictor evictor,
      List<Consumer<List<Digest>>> evictionListeners, ContentReads reads, ContentWrites writes) {
    this.directory = directory;
    this.blobs = blobs;
    this.rows = rows;
    this.budget = budget;
    this.quarantine = quarantine;
    this.evictor = evictor;
    this.evictionListeners = evictionListeners;
    this.reads = reads;
    this.writes = writes;
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

  /**
   * The manifest media type recorded on {@code digest}'s row, as it was stored; empty for a layer
   * or config, for a manifest stored as a blob or adopted without one, and for what is not stored.
   * One row read: no file is opened and no access is counted.
   */
  public Optional<String> mediaTypeOf(Digest digest) {
    return rows.find(digest).map(BlobRecord::mediaType);
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
    BlobCheck check = BlobCheck.of(blobs.pathOf(row.digest()), row.digest(), row.size(), reads);
    if (check.intact()) {
      blobs.recordSizeIfAbsent(row.digest(), row.size());
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
    writes.storeManifest(manifest);
  }

  /**
   * Refuses writes from now on, and says whether a stop now leaves nothing for recovery to settle
   * (no write under way, no published file left without its row).
   */
  boolean refuseWrites() {
    return writes.refuseWrites();
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
