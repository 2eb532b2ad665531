package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A blob still downloading, as the clients that follow it see it: how far it is written, when
 * more is, and a channel on its bytes. Its ingest writes; readers read at their own pace,
 * each through a channel of its own, so a slow reader never holds up the writer or another reader.
 *
 * <p>Notification is per blob: each append swaps in a fresh future and completes the previous
 * one, waking only the readers of this blob that had caught up. The writer publishes
 * {@code written} before completing the future and a reader takes the future before reading
 * {@code written}, so a reader can never miss an append and sleep forever.
 *
 * <p>Integrity: a response that ends at the blob's last byte (a whole blob, or a range to its end)
 * may send that byte only once the whole blob is verified ({@link #readableLimit}); if
 * verification fails, readers are failed before their response could look complete. A range that
 * ends before the blob does is sent as it is written: no part of a blob can be checked before all
 * of it is in. A response of unknown length (the upstream announced no size) sends what is
 * written, and only its end (the chunked terminator) waits for verification: {@link #isVerified}.
 *
 * <p>Verified is not stored: readers are released as soon as the digest matches, and the blob is
 * made durable (fsync, rename, row) after that, off their path. {@link #finished} completes when
 * that is done (or the download failed); a failure to store bytes already verified ends the
 * download for the cache, but not for readers, who go on reading what was verified.
 */
public final class GrowingBlob {

  private final Digest digest;
  private final long expectedSize;
  private final PartialBlob file;
  private final CompletableFuture<Path> finished = new CompletableFuture<>();
  private final AtomicReference<CompletableFuture<Void>> nextAppend = new AtomicReference<>(new CompletableFuture<>());
  private volatile long written;
  private volatile boolean verified;
  /**
   * Where the bytes being written come from now (the upstream unless its filler says otherwise,
   * e.g. the bucket or a member): a label for what clients were served, read when their answers
   * end. A fill handed over from one origin to the next is labelled by the last.
   */
  private volatile FillSource source = FillSource.UPSTREAM;
  /** Why the content failed (before verification): readers must not send its end. */
  private volatile Throwable failure;

  GrowingBlob(Digest digest, long expectedSize, PartialBlob file) {
    this.digest = digest;
    this.expectedSize = expectedSize;
    this.file = file;
  }

  public Digest digest() {
    return digest;
  }

  /** Where the bytes being written come from now (see the field). */
  public FillSource source() {
    return source;
  }

  /** Says where the bytes written from now on come from. */
  public void source(FillSource origin) {
    this.source = origin;
  }

  /** The size the upstream announced, or -1 when it did not. */
  public long expectedSize() {
    return expectedSize;
  }

  /** Bytes written (and readable through the page cache) so far. */
  public long written() {
    return written;
  }

  // ---- told by the writer ----

  /** {@code total} bytes are written now: wakes this blob's readers that had caught up. */
  void grew(long total) {
    written = total;
    nextAppend.getAndSet(new CompletableFuture<>()).complete(null);
  }

  /** The whole content is verified: responses may send their final byte, before the blob is stored. */
  void verified() {
    verified = true;
    wakeAll();
  }

  /** The verified blob is stored, durably, at {@code stored}. */
  void stored(Path stored) {
    finished.complete(stored);
    wakeAll();
  }

  /**
   * The verified blob could not be stored (a full disk): the download ends for the cache, and
   * readers go on with what was verified; one that has not opened the content yet may find it gone.
   */
  void notStored(Throwable cause) {
    finished.completeExceptionally(cause);
    wakeAll();
  }

  /** The download failed before its content was verified: every reader is woken to find it so. */
  void failed(Throwable cause) {
    failure = cause;
    finished.completeExceptionally(cause);
    wakeAll();
  }

  /** Completes the current future without swapping in a fresh one: whoever asks after this is answered at once. */
  private void wakeAll() {
    nextAppend.get().complete(null);
  }

  // ---- reader side: any thread ----

  /**
   * Completes with where the blob is stored once it is durable, or exceptionally if the download
   * failed or its verified bytes could not be stored: when the download has ended for the cache.
   * Readers look at {@link #isVerified} and {@link #hasFailed}, not at this.
   */
  public CompletableFuture<Path> finished() {
    return finished;
  }

  /** Whether the whole content is verified, so a response may send it to its end (see {@link #verified()}). */
  public boolean isVerified() {
    return verified;
  }

  /** Whether the download failed before its content was verified: a response must not end as if complete. */
  public boolean hasFailed() {
    return failure != null;
  }

  /**
   * How far a response that must end at byte {@code endInclusive} may be sent now: everything
   * written, except that the blob's last byte waits until the blob is verified.
   */
  public long readableLimit(long endInclusive) {
    long available = written;
    boolean endsTheBlob = expectedSize < 0 || endInclusive >= expectedSize - 1;
    if (verified || !endsTheBlob) {
      return Math.min(available, endInclusive + 1);
    }
    return Math.min(available, endInclusive);
  }

  /**
   * Completes when a response ending at {@code endInclusive} can send more than {@code position}
   * (see {@link #readableLimit}), or when the download has ended either way. A reader held back
   * only by the final byte waits on the same future: verification and failure complete it too.
   */
  public CompletableFuture<Void> awaitReadable(long position, long endInclusive) {
    CompletableFuture<Void> next = nextAppend.get();
    if (readableLimit(endInclusive) > position || finished.isDone()) {
      return CompletableFuture.completedFuture(null);
    }
    return next;
  }

  /**
   * Opens the content for reading: the temp file while it exists, the published file after. Both
   * are the same inode, so a channel opened on the temp file keeps working after the rename.
   */
  public FileChannel openForReading() throws IOException {
    try {
      return file.openForReading();
    } catch (NoSuchFileException neither) {
      throw new IOException("download of " + digest + " failed", finished.isCompletedExceptionally() ? cause() : neither);
    }
  }

  private Throwable cause() {
    try {
      finished.join();
      return null;
    } catch (RuntimeException e) {
      return e.getCause() != null ? e.getCause() : e;
    }
  }
}
