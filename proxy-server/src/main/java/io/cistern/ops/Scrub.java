package io.cistern.ops;

import io.cistern.cache.BlobCache;
import io.cistern.cache.BlobRecord;
import io.cistern.oci.Digest;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The background scrub ({@code cache.scrub.bytesPerSecond}): {@code cistern verify --repair}
 * done continuously, one stored blob at a time in digest order, reading at most that many bytes a
 * second. At the end of the cache it pauses for a minute's worth of its pace and starts over.
 *
 * <p>Threads: one daemon thread of its own, which sleeps between reads to keep the pace. The work
 * is endless and paced, so on a shared pool it would hold a thread for hours; nothing waits for
 * it. It holds no lock, and a database connection only to read a page of rows or drop one.
 * {@link #scrubNext} is the unit of work, for tests to drive directly.
 *
 * <p>Where it is: the last digest checked is written to {@code <cache>/scrub.position} after every
 * page of rows and when it stops, so that a restart resumes there: a cache larger than what the
 * pace reads between two restarts would otherwise never be scrubbed past its first digests.
 */
public final class Scrub implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Scrub.class);

  static final String POSITION_FILE = "scrub.position";
  static final int PAGE = 128;
  /** What a blob costs besides its bytes (its row, its stat and open), so that empty blobs are paced too. */
  static final long BLOB_COST = 4096;
  static final long PAUSE_SECONDS = 60;

  private final BlobCache cache;
  private final BlobVerifier verifier;
  private final Pacer pacer;
  private final Path positionFile;
  private final int pageSize;
  private final AtomicLong scrubbedBytes = new AtomicLong();
  private final AtomicLong scrubbedBlobs = new AtomicLong();
  private final AtomicLong corruptBlobs = new AtomicLong();
  private final AtomicLong passes = new AtomicLong();
  // Only the scrub's thread (or a test driving scrubNext) touches these.
  private List<BlobRecord> page = List.of();
  private int next;
  private Digest position;
  /** Set before the thread starts; read by whoever stops the server (a shutdown hook's thread). */
  private volatile Thread thread;

  /** @param pageSize how many rows are read at a time (and how often the position is saved) */
  Scrub(BlobCache cache, BlobVerifier verifier, Pacer pacer, int pageSize) {
    this.cache = cache;
    this.verifier = verifier;
    this.pacer = pacer;
    this.pageSize = pageSize;
    this.positionFile = cache.directory().resolve(POSITION_FILE);
    this.position = readPosition(positionFile);
  }

  /**
   * Starts scrubbing {@code cache} at {@code bytesPerSecond} in the background; null when the
   * pace is 0 (off).
   */
  public static Scrub start(BlobCache cache, BlobVerifier verifier, long bytesPerSecond) {
    if (bytesPerSecond <= 0) {
      return null;
    }
    Scrub scrub = new Scrub(cache, verifier, Pacer.of(bytesPerSecond), PAGE);
    log.info("scrubbing the cache at {} bytes/s{}", bytesPerSecond,
        scrub.position == null ? "" : ", resuming after " + scrub.position);
    Thread thread = new Thread(scrub::run, "cistern-scrub");
    thread.setDaemon(true);
    scrub.thread = thread;
    thread.start();
    return scrub;
  }

  private void run() {
    try {
      while (!Thread.currentThread().isInterrupted()) {
        try {
          scrubNext();
        } catch (RuntimeException e) {
          // The database or the disk failing: say so, and try again after a pause rather than spin.
          log.warn("the scrub failed; it tries again in {} s: {}", PAUSE_SECONDS, e.toString());
          page = List.of();
          next = 0;
          pacer.acquire(pacer.bytesPerSecond() * PAUSE_SECONDS);
        }
      }
    } catch (InterruptedException stopping) {
      // close() asked.
    } finally {
      savePosition();
    }
  }

  /**
   * Checks the next stored blob after the position, and repairs it if it is damaged.
   *
   * @return false when the walk had reached the end of the cache: the next call starts over from
   *     the first digest, after a pause
   */
  boolean scrubNext() throws InterruptedException {
    pacer.acquire(BLOB_COST);
    if (next == page.size()) {
      if (!page.isEmpty()) {
        savePosition();
      }
      page = cache.storedAfter(position, pageSize);
      next = 0;
      if (page.isEmpty()) {
        position = null;
        passes.incrementAndGet();
        savePosition();
        pacer.acquire(pacer.bytesPerSecond() * PAUSE_SECONDS);
        return false;
      }
    }
    BlobRecord row = page.get(next++);
    Optional<BlobProblem> problem = verifier.verify(row, true, bytes -> {
      pacer.acquire(bytes);
      scrubbedBytes.addAndGet(bytes);
    });
    position = row.digest();
    scrubbedBlobs.incrementAndGet();
    problem.ifPresent(found -> {
      corruptBlobs.incrementAndGet();
      log.warn("the scrub found {} damaged ({}: {}): {}{}", found.digest(), found.problem(), found.detail(),
          found.quarantined() != null ? "moved to " + found.quarantined() : found.action(),
          found.onlyCopy() ? "; it was the only copy (pinned, or its upstream is offline): restore it from a bundle"
              + " or pull it once its upstream is back" : "; it is fetched again on its next pull");
    });
    return true;
  }

  /** The last digest checked; null before the first, and once a pass is over. */
  Digest position() {
    return position;
  }

  /** Bytes read and hashed since start. */
  public long scrubbedBytes() {
    return scrubbedBytes.get();
  }

  /** Blobs and manifests checked since start. */
  public long scrubbedBlobs() {
    return scrubbedBlobs.get();
  }

  /** Damaged blobs found (and quarantined) since start. */
  public long corruptBlobs() {
    return corruptBlobs.get();
  }

  /** Walks of the whole cache finished since start. */
  public long passes() {
    return passes.get();
  }

  /** Stops the scrub and waits for it, so that it reads nothing of a cache being closed. */
  @Override
  public void close() {
    Thread running = thread;
    if (running == null) {
      return;
    }
    running.interrupt();
    try {
      running.join(TimeUnit.SECONDS.toMillis(10));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private static Digest readPosition(Path file) {
    try {
      return Digest.parse(Files.readString(file, StandardCharsets.US_ASCII).trim());
    } catch (NoSuchFileException | RegistryException none) {
      return null;
    } catch (IOException e) {
      log.warn("cannot read the scrub's position in {}; it starts from the first digest: {}", file, e.toString());
      return null;
    }
  }

  /** Written beside and renamed over, so a crash leaves the old position or the new, never half of one. */
  private void savePosition() {
    Path temp = positionFile.resolveSibling(POSITION_FILE + ".tmp");
    try {
      Files.writeString(temp, position == null ? "" : position + "\n", StandardCharsets.US_ASCII);
      Files.move(temp, positionFile, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException e) {
      log.warn("cannot save the scrub's position in {}: {}", positionFile, e.toString());
    }
  }
}
