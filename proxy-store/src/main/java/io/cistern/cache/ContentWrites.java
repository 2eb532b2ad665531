package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Everything that adds content to the local tier: downloads ({@link Ingest}, with their room
 * claimed from the {@link DiskBudget} first) and manifests (small, written in one go). Both are
 * published the same way: a verified, fsynced temp file renamed into place, its directory synced,
 * its row written, its bytes counted. A download's durable half runs on the durability executor,
 * after its followers have been released ({@link Ingest#publish}); a manifest's on its writer's
 * thread, which needs it stored before it answers.
 *
 * <p>It also knows what a stop must wait for or leave to recovery: the writes under way (a
 * download's temp file, a manifest between its rename and its row), and a published file whose
 * row could not be written. A writer registers before it reads {@code closing}, and a stop sets
 * {@code closing} before it counts the writers: one of the two sees the other, so no write
 * outlives a stop marked clean.
 */
final class ContentWrites {

  private static final Logger log = LoggerFactory.getLogger(ContentWrites.class);

  private final DiskTier disk;
  private final BlobRows rows;
  private final DiskBudget budget;
  private final Clock clock;
  private final StorageFailures failures;
  private final Runnable pokeEvictor;
  private final Executor durability;
  private final Set<Ingest> underway = ConcurrentHashMap.newKeySet();
  private final AtomicInteger manifestWrites = new AtomicInteger();
  private volatile boolean closing;
  /** A published file whose row could not be written was left behind: only recovery settles it. */
  private volatile boolean recoveryNeeded;

  /** @param durability where verified downloads are made durable (see {@link #makeDurable}) */
  ContentWrites(DiskTier disk, BlobRows rows, DiskBudget budget, Clock clock, StorageFailures failures,
      Runnable pokeEvictor, Executor durability) {
    this.disk = disk;
    this.rows = rows;
    this.budget = budget;
    this.clock = clock;
    this.failures = failures;
    this.pokeEvictor = pokeEvictor;
    this.durability = durability;
  }

  /**
   * An ingest of {@code digest}, once its room ({@code expectedSize} bytes, when known) is claimed
   * from the budget and its temp file created; fails with the budget's refusal, a
   * {@link LocalStorageException}, or an IOException once closing.
   */
  CompletableFuture<Ingest> ingest(Digest digest, long expectedSize) {
    CompletableFuture<Reservation> room = expectedSize >= 0
        ? budget.reserve(expectedSize)
        : CompletableFuture.completedFuture(null);
    return room.thenApply(reservation -> {
      try {
        return begin(digest, expectedSize, reservation);
      } catch (IOException e) {
        throw new CompletionException(e);
      }
    });
  }

  /** Refuses when the file system is short of the free space kept, before a download is asked for. */
  void requireFreeDisk() {
    budget.requireFreeDisk();
  }

  /**
   * Starts an ingest into a temp file beside the blob's final place; refused once closing. The
   * ingest owns {@code reservation} from here: a failure here releases it.
   */
  private Ingest begin(Digest digest, long expectedSize, Reservation reservation) throws IOException {
    Ingest ingest;
    try {
      ingest = new Ingest(this, digest, expectedSize, reservation, disk.stage(digest));
    } catch (LocalStorageException e) {
      if (reservation != null) {
        release(reservation);
      }
      throw failures.failed(e);
    }
    // Registered before `closing` is read (see the class comment).
    underway.add(ingest);
    if (closing) {
      IOException refused = new IOException("the cache is closing");
      ingest.abandon(refused);
      throw refused;
    }
    return ingest;
  }

  /**
   * Runs the durable half of a verified download's publication (fsync, rename, directory fsync,
   * row) off the thread that verified it; on that thread itself once the executor takes no more
   * work (the cache is closing: the stop then finds the download under way, and is not marked
   * clean unless it is done).
   */
  void makeDurable(Runnable store) {
    try {
      durability.execute(store);
    } catch (RejectedExecutionException closing) {
      store.run();
    }
  }

  /** Publishes an ingest's verified, synced temp file (see {@link #publishAndRecord}); where it is stored. */
  Path publish(Path temp, Digest digest, long size, Reservation reservation) throws IOException {
    publishAndRecord(temp, digest, size, null, List.of(), reservation);
    return disk.pathOf(digest);
  }

  /**
   * An ingest ended: published ({@code failure} null), or failed. Only now does it leave the
   * writes under way: while it is among them, a stop is not marked clean.
   */
  void ended(Ingest ingest, Throwable failure) {
    if (failure == null) {
      failures.worked();
    } else {
      failures.noteIfLocal(failure);
    }
    underway.remove(ingest);
  }

  /** Gives back room whose download ended without being published. */
  void release(Reservation reservation) {
    reservation.release();
    budget.admitWaiting();
  }

  /** Stores a verified manifest in one go, recording what it refers to; refused once closing. */
  void storeManifest(Manifest manifest) {
    if (!manifest.digest().matches(manifest.bytes())) {
      throw new IllegalArgumentException("manifest bytes do not match " + manifest.digest());
    }
    // Counted as under way, with the same handshake as an ingest's, so that a stop is not marked
    // clean while it could still leave a file without a row.
    manifestWrites.incrementAndGet();
    try {
      if (closing) {
        throw new IOException("the cache is closing");
      }
      Path temp;
      try {
        temp = disk.writePartial(manifest.digest(), manifest.bytes());
      } catch (IOException e) {
        throw failures.failed(new LocalStorageException("cannot write manifest " + manifest.digest(), e));
      }
      try {
        publishAndRecord(temp, manifest.digest(), manifest.bytes().length, manifest.mediaType(),
            ManifestReferences.of(manifest.bytes()), null);
      } catch (IOException | RuntimeException e) {
        failures.noteIfLocal(e);
        Files.deleteIfExists(temp);
        throw e;
      }
    } catch (IOException e) {
      throw new UncheckedIOException("cannot store manifest " + manifest.digest(), e);
    } finally {
      manifestWrites.decrementAndGet();
    }
    failures.worked();
  }

  /**
   * Renames a complete, synced temp file into place and records it. If anything fails after the
   * rename, the file is unlinked again: with no row it would sit outside the byte budget, where
   * no eviction can see it. Only if even that fails is it left to recovery, and then this run's
   * stop is not marked clean, so that recovery runs.
   */
  private void publishAndRecord(Path temp, Digest digest, long size, String mediaType, List<Digest> references,
      Reservation reservation) throws IOException {
    disk.moveIntoPlace(temp, digest, size);
    try {
      try {
        disk.syncDirectoryOf(digest);
      } catch (IOException e) {
        throw new LocalStorageException("cannot sync the directory of " + digest, e);
      }
      recordStored(digest, size, mediaType, references, reservation);
    } catch (IOException | RuntimeException e) {
      try {
        // If an earlier copy of these bytes had a row, that row now has no file: the next read
        // misses and fetches again, and eviction drops such a row like any other.
        disk.deleteFile(digest);
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
      pokeEvictor.run();
    }
  }

  /**
   * Refuses writes from now on, and says whether a stop now leaves nothing for recovery to
   * settle: no download or manifest write under way (one could still leave its temp file, or
   * rename its file into place without a row), and no published file left without its row
   * (see {@link #publishAndRecord}).
   */
  boolean refuseWrites() {
    // Set before the writes under way are counted: see the class comment for the handshake.
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
}
