package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.time.Clock;
import java.util.List;
import java.util.Optional;
import java.util.function.Consumer;

/**
 * Where stored files that failed a check go ({@code <cache>/quarantine}), and what goes with them:
 * a file is moved there under a name of its own, never deleted, and its row is dropped as an
 * eviction would drop it (bytes out of the budget, memory caches told), so that the next pull
 * fetches the blob again.
 *
 * <p>Concurrency: nothing is locked. A move is one {@code rename(2)}: of two readers that find
 * the same file damaged, one moves it and the other finds nothing to move. A row is dropped only
 * if the blob's file is still gone inside the write transaction ({@link BlobRows#deleteIf}),
 * so a copy published meanwhile keeps its row; a repair checks that the file it moves is the one
 * it checked, and puts back a newer copy.
 */
final class Quarantine {

  static final String DIRECTORY = "quarantine";

  private final Path directory;
  private final DiskTier blobs;
  private final BlobRows rows;
  private final DiskBudget budget;
  private final Clock clock;
  private final Consumer<List<Digest>> rowsDropped;

  /** @param rowsDropped told of each blob whose row went, as the eviction listeners are */
  Quarantine(Path cacheDirectory, DiskTier blobs, BlobRows rows, DiskBudget budget, Clock clock,
      Consumer<List<Digest>> rowsDropped) {
    this.directory = cacheDirectory.resolve(DIRECTORY);
    this.blobs = blobs;
    this.rows = rows;
    this.budget = budget;
    this.clock = clock;
    this.rowsDropped = rowsDropped;
  }

  Path directory() {
    return directory;
  }

  /** Moves a blob's file to {@code <algorithm>-<hex>.<epoch millis>} here; null when there is no file. */
  Path move(Digest digest) throws IOException {
    Files.createDirectories(directory);
    String name = digest.algorithm().prefix() + "-" + digest.hex() + "." + clock.millis();
    Path target = directory.resolve(name);
    // rename(2) would replace a file of that name: the same blob set aside twice in one millisecond.
    for (int n = 1; Files.exists(target, LinkOption.NOFOLLOW_LINKS); n++) {
      target = directory.resolve(name + "-" + n);
    }
    try {
      Files.move(blobs.pathOf(digest), target, StandardCopyOption.ATOMIC_MOVE);
    } catch (NoSuchFileException gone) {
      return null;
    }
    return target;
  }

  /** Makes a move durable, so that a crash cannot bring the file back into the store. */
  void sync(Digest digest) throws IOException {
    blobs.syncDirectoryOf(digest);
    DiskTier.fsyncDirectory(directory);
  }

  /** Drops a blob's row if its file is still gone; the dropped row, if any. */
  Optional<BlobRecord> dropRowIfGone(Digest digest) {
    Optional<BlobRecord> dropped = rows.deleteIf(digest, () -> !blobs.contains(digest));
    dropped.ifPresent(row -> {
      budget.removeStored(row.size());
      budget.admitWaiting();
      rowsDropped.accept(List.of(digest));
    });
    return dropped;
  }

  /** See {@link BlobCache#repair}. */
  BlobCache.Repair repair(BlobCheck check) throws IOException {
    if (check.intact()) {
      throw new IllegalArgumentException(check.digest() + " is whole: nothing to repair");
    }
    Digest digest = check.digest();
    Path moved = null;
    if (check.problem() != BlobCheck.Problem.MISSING) {
      moved = move(digest);
      if (moved != null && check.identity() != null
          && !check.identity().equals(BlobCheck.identityOf(Files.readAttributes(moved, BasicFileAttributes.class)))) {
        // Published since the check: a verified copy. rename(2) puts it back even over a copy
        // published in the meantime, which is as good.
        Files.move(moved, blobs.pathOf(digest), StandardCopyOption.ATOMIC_MOVE);
        return new BlobCache.Repair(null, false, true);
      }
      sync(digest);
    }
    return new BlobCache.Repair(moved, dropRowIfGone(digest).isPresent(), false);
  }
}
