package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A blob being downloaded: a temp file that grows while any number of readers follow it.
 *
 * <p>One writer appends, hashing as it goes; {@link BlobCache#publish} verifies the size and
 * digest and moves the file into place. Readers open the temp file themselves and read at their
 * own pace, so a slow reader never holds up the writer or another reader.
 *
 * <p>Notification is per blob: each append swaps in a fresh future and completes the previous
 * one, waking only the readers of this blob that had caught up. The writer publishes
 * {@code written} before completing the future and a reader takes the future before reading
 * {@code written}, so a reader can never miss an append and sleep forever.
 *
 * <p>Integrity: a response of known length cut from a partial blob may send its last byte only
 * once the blob is verified ({@link #readableLimit}); if verification fails, readers are failed
 * before their response could look complete. A response of unknown length (the upstream announced
 * no size) sends what is written, and only its end (the chunked terminator) waits for
 * verification: {@link #isPublished}.
 *
 * <p>A download ends exactly once: published, or abandoned. Publication claims it first
 * ({@link #claimPublication}), so an abandon from outside (a stop that can wait no longer) either
 * wins before publication starts or finds it claimed and leaves it to finish; whoever ends it
 * settles its reservation.
 */
public final class PartialBlob {

  private static final int WRITING = 0;
  private static final int PUBLISHING = 1;
  private static final int ENDED = 2;

  private final Digest digest;
  private final Path tempPath;
  private final Path finalPath;
  private final FileChannel channel;
  private final MessageDigest hasher;
  private final long expectedSize;
  private final Reservation reservation;
  private final AtomicInteger state = new AtomicInteger(WRITING);
  private final CompletableFuture<Path> finished = new CompletableFuture<>();
  private final AtomicReference<CompletableFuture<Void>> nextAppend = new AtomicReference<>(new CompletableFuture<>());
  private volatile long written;

  PartialBlob(Digest digest, Path tempPath, Path finalPath, long expectedSize, Reservation reservation) throws IOException {
    this.digest = digest;
    this.tempPath = tempPath;
    this.finalPath = finalPath;
    this.expectedSize = expectedSize;
    this.reservation = reservation;
    this.channel = FileChannel.open(tempPath, StandardOpenOption.WRITE);
    this.hasher = digest.algorithm().newMessageDigest();
  }

  public Digest digest() {
    return digest;
  }

  /** The size the upstream announced, or -1 when it did not. */
  public long expectedSize() {
    return expectedSize;
  }

  /** Bytes written (and readable through the page cache) so far. */
  public long written() {
    return written;
  }

  // ---- writer side: one thread at a time ----

  /**
   * Appends {@code buffer}, hashing it, then wakes this blob's waiting readers.
   *
   * @throws LocalStorageException when the temp file cannot take the bytes (a full disk)
   */
  public void append(ByteBuffer buffer) throws IOException {
    long position = written;
    ByteBuffer forHash = buffer.duplicate();
    try {
      while (buffer.hasRemaining()) {
        position += channel.write(buffer, position);
      }
    } catch (IOException e) {
      throw new LocalStorageException("cannot write " + digest + " to the cache", e);
    }
    if (reservation != null) {
      reservation.wrote(position - written);
    }
    if (expectedSize >= 0 && position > expectedSize) {
      throw new ContentMismatchException("upstream sent more than the announced " + expectedSize + " bytes of " + digest);
    }
    hasher.update(forHash);
    written = position;
    nextAppend.getAndSet(new CompletableFuture<>()).complete(null);
  }

  /**
   * The hash state after the bytes written so far. A download restarted from byte zero compares
   * the new prefix against it before carrying on (see the fetcher).
   */
  public MessageDigest hashSoFar() {
    try {
      return (MessageDigest) hasher.clone();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("JDK message digests are cloneable", e);
    }
  }

  /** Verifies size and digest and makes the content durable; the rename is the caller's. */
  void verifyAndSync() throws IOException {
    if (expectedSize >= 0 && written != expectedSize) {
      throw new ContentMismatchException("upstream sent " + written + " of " + expectedSize + " bytes of " + digest);
    }
    Digest actual = Digest.fromBytes(digest.algorithm(), hasher.digest());
    if (!actual.equals(digest)) {
      throw new ContentMismatchException("upstream content hashes to " + actual + ", not " + digest);
    }
    try {
      channel.force(true);
      channel.close();
    } catch (IOException e) {
      throw new LocalStorageException("cannot sync " + digest + " to the cache's disk", e);
    }
  }

  Path tempPath() {
    return tempPath;
  }

  /** The room claimed for this download, or null (unknown size); settled by whoever ends it. */
  Reservation reservation() {
    return reservation;
  }

  /** Claims the download for publication; false if it has ended already (abandoned). */
  boolean claimPublication() {
    return state.compareAndSet(WRITING, PUBLISHING);
  }

  /** Claims the download for an abandon; false if it is being published or has ended already. */
  boolean claimAbandon() {
    return state.compareAndSet(WRITING, ENDED);
  }

  void markPublished() {
    state.set(ENDED);
    finished.complete(finalPath);
    wakeAll();
  }

  /** Ends the download, claimed by the caller, as failed: deletes the temp file and fails every reader. */
  void fail(Throwable cause) {
    state.set(ENDED);
    try {
      channel.close();
      Files.deleteIfExists(tempPath);
    } catch (IOException ignored) {
      // The temp file is swept on the next start; the readers' failure is what matters here.
    }
    finished.completeExceptionally(cause);
    wakeAll();
  }

  private void wakeAll() {
    nextAppend.get().complete(null);
  }

  // ---- reader side: any thread ----

  /** Completes with the final path once published, or exceptionally if the download failed. */
  public CompletableFuture<Path> finished() {
    return finished;
  }

  public boolean isPublished() {
    return finished.isDone() && !finished.isCompletedExceptionally();
  }

  /**
   * How far a response that must end at byte {@code endInclusive} may be sent now: everything
   * written, except that its final byte waits until the blob is verified.
   */
  public long readableLimit(long endInclusive) {
    long available = written;
    if (isPublished()) {
      return Math.min(available, endInclusive + 1);
    }
    return Math.min(available, endInclusive);
  }

  /**
   * Completes when a response ending at {@code endInclusive} can send more than {@code position}
   * (see {@link #readableLimit}), or when the download has finished either way.
   */
  public CompletableFuture<Void> awaitReadable(long position, long endInclusive) {
    CompletableFuture<Void> next = nextAppend.get();
    if (readableLimit(endInclusive) > position || finished.isDone()) {
      return CompletableFuture.completedFuture(null);
    }
    if (written > position) {
      // Only the held-back final byte is left: it waits for verification, not for more data.
      return finished.handle((path, failure) -> null);
    }
    return next;
  }

  /**
   * Opens the content for reading: the temp file while it exists, the published file after. Both
   * are the same inode, so a channel opened on the temp file keeps working after the rename.
   */
  public FileChannel openForReading() throws IOException {
    try {
      return FileChannel.open(tempPath, StandardOpenOption.READ);
    } catch (NoSuchFileException renamedOrFailed) {
      try {
        return FileChannel.open(finalPath, StandardOpenOption.READ);
      } catch (NoSuchFileException neither) {
        throw new IOException("download of " + digest + " failed", finished.isCompletedExceptionally() ? failure() : neither);
      }
    }
  }

  private Throwable failure() {
    try {
      finished.join();
      return null;
    } catch (RuntimeException e) {
      return e.getCause() != null ? e.getCause() : e;
    }
  }
}
