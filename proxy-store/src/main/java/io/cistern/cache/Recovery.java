package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings files and rows back into agreement at start: temp files are deleted, a published file
 * without a row is adopted, and a row without a file is dropped with its tag mappings. It runs
 * after an unclean stop ({@link #run}: the previous run left no clean-stop marker), and when the
 * metadata database was lost ({@link #rebuild}: every file is then without a row).
 *
 * <p>A file is adopted only once its content is hashed and matches its name: its size comes from
 * the file, and a manifest is recognised by its content, so that it keeps its media type and what
 * it refers to. A file that does not match is moved to the quarantine directory, never served.
 * Hashing costs a read of every adopted byte, so it runs on one thread per core; after a crash
 * only the few files renamed into place just before it are adopted, after a lost database all of
 * them are (see the README for the rate).
 *
 * <p>It walks the store one shard directory at a time and compares it with that shard's rows, so
 * memory stays proportional to one shard, not to the whole cache; at most two hashes per thread
 * are queued at a time.
 */
final class Recovery {

  private static final Logger log = LoggerFactory.getLogger(Recovery.class);

  record Outcome(int partialsDeleted, int filesAdopted, long bytesAdopted, int filesQuarantined, int rowsDropped) {}

  private final DiskTier blobs;
  private final BlobRows rows;
  private final Quarantine quarantine;
  private final int threads = Runtime.getRuntime().availableProcessors();

  /** @param quarantine where a file whose content does not match its name is moved */
  Recovery(DiskTier blobs, BlobRows rows, Quarantine quarantine) {
    this.blobs = blobs;
    this.rows = rows;
    this.quarantine = quarantine;
  }

  /** After an unclean stop. */
  Outcome run() throws IOException {
    Outcome outcome = reconcile();
    log.info("recovered the cache after an unclean stop: {} temp files deleted, {} files adopted, {} rows dropped, "
        + "{} files not matching their names moved to {}", outcome.partialsDeleted(), outcome.filesAdopted(),
        outcome.rowsDropped(), outcome.filesQuarantined(), quarantine.directory());
    return outcome;
  }

  /**
   * After the metadata database was lost ({@code loss}: how): every file is adopted again. What
   * lives only in the database (tags, pins, repository links, referrers lists) is gone for good.
   */
  Outcome rebuild(String loss) throws IOException {
    log.warn("the metadata database was {}: rebuilding it from the cache's files, hashing each of them first", loss);
    long started = System.nanoTime();
    Outcome outcome = reconcile();
    double seconds = Math.max(1e-9, (System.nanoTime() - started) / 1e9);
    log.warn("rebuilt the metadata database from the cache's files in {} s ({} MB/s): {} files adopted ({} bytes), "
        + "{} temp files deleted, {} files not matching their names moved to {}. Tags, pins, repository links and "
        + "referrers lists cannot be rebuilt from files: a pull by tag resolves the tag upstream again, and an offline "
        + "site must import its bundles again", String.format("%.1f", seconds),
        String.format("%.0f", outcome.bytesAdopted() / 1e6 / seconds), outcome.filesAdopted(), outcome.bytesAdopted(),
        outcome.partialsDeleted(), outcome.filesQuarantined(), quarantine.directory());
    return outcome;
  }

  private Outcome reconcile() throws IOException {
    AtomicInteger partials = new AtomicInteger();
    AtomicInteger adopted = new AtomicInteger();
    AtomicLong adoptedBytes = new AtomicLong();
    AtomicInteger quarantined = new AtomicInteger();
    AtomicInteger dropped = new AtomicInteger();
    AtomicReference<Throwable> failure = new AtomicReference<>();
    // Bounds the queue of files waiting for a hasher, so memory stays that of one shard.
    Semaphore queued = new Semaphore(threads * 2);
    ExecutorService hashers = Executors.newFixedThreadPool(threads, task -> {
      Thread thread = new Thread(task, "cistern-recovery");
      thread.setDaemon(true);
      return thread;
    });
    Set<String> visitedShards = new HashSet<>();
    try {
      blobs.forEachShard((algorithm, shard) -> {
        String prefix = algorithm.prefix() + ":" + shard.getFileName();
        visitedShards.add(prefix);
        Set<String> unmatched = rows.digestsWithPrefix(prefix);
        try (DirectoryStream<Path> files = Files.newDirectoryStream(shard)) {
          for (Path file : files) {
            String name = file.getFileName().toString();
            if (name.endsWith(DiskTier.PARTIAL_SUFFIX)) {
              Files.deleteIfExists(file);
              partials.incrementAndGet();
              continue;
            }
            Digest digest = parseOrNull(algorithm, name);
            if (digest == null || unmatched.remove(digest.toString()) || !Files.isRegularFile(file)) {
              continue;
            }
            queued.acquireUninterruptibly();
            if (failure.get() != null) {
              throw new UncheckedIOException(new IOException("adopting a file failed", failure.get()));
            }
            hashers.execute(() -> {
              try {
                long size = adopt(digest, file);
                if (size >= 0) {
                  adopted.incrementAndGet();
                  adoptedBytes.addAndGet(size);
                } else {
                  quarantined.incrementAndGet();
                }
              } catch (IOException | RuntimeException e) {
                failure.compareAndSet(null, e);
              } finally {
                queued.release();
              }
            });
          }
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
        // What is left had a row but no file.
        dropRows(unmatched);
        dropped.addAndGet(unmatched.size());
      });
    } finally {
      hashers.shutdown();
      awaitUninterruptibly(hashers);
    }
    if (failure.get() != null) {
      throw new IOException("cannot adopt a stored file: " + failure.get().getMessage(), failure.get());
    }
    for (String prefix : rows.shardPrefixes()) {
      if (!visitedShards.contains(prefix)) {
        Set<String> unmatched = rows.digestsWithPrefix(prefix);
        dropRows(unmatched);
        dropped.addAndGet(unmatched.size());
      }
    }
    return new Outcome(partials.get(), adopted.get(), adoptedBytes.get(), quarantined.get(), dropped.get());
  }

  /**
   * Records a published file that has no row, if its content hashes to its name; else moves it to
   * quarantine. A manifest is recognised by its content, so that it keeps its media type and what
   * it refers to (pins and purges walk those).
   *
   * @return its size if it was adopted, else -1
   */
  private long adopt(Digest digest, Path file) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
    long modified = attributes.lastModifiedTime().toMillis();
    // What could be a manifest is read whole (it is parsed below); anything else is streamed.
    byte[] small = attributes.size() <= Manifest.MAX_BYTES ? Files.readAllBytes(file) : null;
    String mismatch;
    if (small != null) {
      Digest actual = Digest.fromBytes(digest.algorithm(), digest.algorithm().newMessageDigest().digest(small));
      mismatch = actual.equals(digest) ? null : "its bytes hash to " + actual;
    } else {
      BlobCheck check;
      try {
        check = BlobCheck.of(file, digest, -1, BlobCheck.Reads.UNPACED);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new IOException("interrupted while hashing " + file, e);
      }
      if (check.problem() == BlobCheck.Problem.MISSING) {
        return -1;
      }
      if (check.problem() == BlobCheck.Problem.UNREADABLE) {
        throw new IOException(check.detail());
      }
      mismatch = check.intact() ? null : check.detail();
    }
    if (mismatch != null) {
      Path moved = quarantine.move(digest);
      log.warn("{} does not hold what its name says ({}): moved to {}, not adopted", file, mismatch, moved);
      return -1;
    }
    String mediaType = null;
    List<Digest> references = List.of();
    if (small != null && small.length > 0 && small[0] == '{') {
      try {
        String declared = ManifestDocument.parse(small).mediaType();
        if (declared != null && MediaTypes.isManifest(declared)) {
          mediaType = declared;
          references = ManifestReferences.of(small);
        }
      } catch (RegistryException notAManifest) {
        // A JSON config blob, or anything else: adopted as a plain blob.
      }
    }
    rows.insert(digest, attributes.size(), mediaType, references, modified);
    return attributes.size();
  }

  private void dropRows(Set<String> digests) {
    List<Digest> parsed = new ArrayList<>(digests.size());
    digests.forEach(text -> parsed.add(Digest.parse(text)));
    rows.delete(parsed);
  }

  private static Digest parseOrNull(Digest.Algorithm algorithm, String hex) {
    try {
      return new Digest(algorithm, hex);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  private static void awaitUninterruptibly(ExecutorService executor) {
    boolean interrupted = false;
    while (true) {
      try {
        if (executor.awaitTermination(1, TimeUnit.MINUTES)) {
          break;
        }
      } catch (InterruptedException e) {
        interrupted = true;
      }
    }
    if (interrupted) {
      Thread.currentThread().interrupt();
    }
  }
}
