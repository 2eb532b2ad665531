package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One blob being downloaded into the cache, as the cache hands it out: its writer appends, and it
 * ends exactly once, stored or abandoned. Clients follow it through {@link #followers()}.
 *
 * <p>Room is claimed before the first byte (when the size is announced), so an ingest never
 * takes the cache over its byte cap; whoever ends it settles that claim. Bytes are hashed and
 * counted as they are appended ({@link ContentCheck}); publication verifies them and releases the
 * followers' final byte at once, then makes them durable (fsync, rename, directory fsync, row)
 * on the cache's durability executor: a client's correctness is the digest check, and waiting
 * for the disk would only make it wait. Until the blob is durable it stays among the writes under
 * way (a stop is not marked clean meanwhile, and recovery deletes its temp file after a crash),
 * and its room stays claimed.
 *
 * <p>Publication claims the ingest first ({@code WRITING} to {@code PUBLISHING}), so an abandon
 * from outside (a stop that can wait no longer) either wins before publication starts or finds it
 * claimed and leaves it to finish: it is verified already, or about to fail on its own.
 */
public final class Ingest {

  private static final int WRITING = 0;
  private static final int PUBLISHING = 1;
  private static final int ENDED = 2;

  private final ContentWrites writes;
  private final Digest digest;
  private final Reservation reservation;
  private final PartialBlob file;
  private final ContentCheck check;
  private final GrowingBlob followers;
  private final AtomicInteger state = new AtomicInteger(WRITING);

  Ingest(ContentWrites writes, Digest digest, long expectedSize, Reservation reservation, PartialBlob file) {
    this.writes = writes;
    this.digest = digest;
    this.reservation = reservation;
    this.file = file;
    this.check = new ContentCheck(digest, expectedSize);
    this.followers = new GrowingBlob(digest, expectedSize, file);
  }

  public Digest digest() {
    return digest;
  }

  /** The size the upstream announced, or -1 when it did not. */
  public long expectedSize() {
    return followers.expectedSize();
  }

  /** Bytes appended so far. */
  public long written() {
    return followers.written();
  }

  /** How the clients following this download see it. */
  public GrowingBlob followers() {
    return followers;
  }

  // ---- the writer: one thread at a time ----

  /**
   * Appends {@code buffer}, hashing it, then wakes this blob's waiting followers.
   *
   * @throws ContentMismatchException when the bytes run past the announced size
   * @throws LocalStorageException when the disk cannot take them (a full disk)
   */
  public void append(ByteBuffer buffer) throws IOException {
    int count = buffer.remaining();
    check.add(buffer);
    long position = followers.written();
    file.write(buffer, position);
    if (reservation != null) {
      reservation.wrote(count);
    }
    followers.grew(position + count);
  }

  /**
   * The hash state after the bytes appended so far. A download restarted from byte zero compares
   * the new prefix against it before carrying on.
   */
  public MessageDigest hashSoFar() {
    return check.hashSoFar();
  }

  /**
   * Verifies the size and digest and lets followers send their final byte, then has the blob made
   * durable, renamed into place and recorded off this thread. On a failed check the ingest is
   * abandoned and the exception thrown ({@link ContentMismatchException} for bytes that are not
   * the blob).
   *
   * @return completes with where the blob is stored once it is durable, or exceptionally (with a
   *     {@link LocalStorageException} for a full disk) if it could not be stored: the followers'
   *     {@link GrowingBlob#finished}
   * @throws IOException when it was abandoned before this call (a stop), or the check failed
   */
  public CompletableFuture<Path> publish() throws IOException {
    if (!state.compareAndSet(WRITING, PUBLISHING)) {
      throw new IOException("the download of " + digest + " was abandoned before it could be published");
    }
    try {
      check.verify();
    } catch (IOException | RuntimeException e) {
      end(e);
      throw e;
    }
    followers.verified();
    writes.makeDurable(this::store);
    return followers.finished();
  }

  /**
   * The durable half of publication: fsync, rename into place, directory fsync, row. If it fails
   * (a full disk), the file goes and its room is given back; followers have the verified bytes
   * already and keep them.
   */
  private void store() {
    Path stored;
    try {
      file.sync();
      stored = writes.publish(file.tempPath(), digest, followers.written(), reservation);
    } catch (IOException | RuntimeException e) {
      state.set(ENDED);
      file.discard();
      if (reservation != null) {
        writes.release(reservation);
      }
      writes.ended(this, e);
      followers.notStored(e);
      return;
    }
    state.set(ENDED);
    // Out of the writes under way before anyone hears it is stored: a stop that waited for it
    // then finds nothing pending.
    writes.ended(this, null);
    followers.stored(stored);
  }

  /**
   * Gives up the download: its temp file goes, its room is given back, its followers fail. One
   * whose publication has begun is left to finish, and one that has ended is left as it is.
   */
  public void abandon(Throwable cause) {
    if (state.compareAndSet(WRITING, ENDED)) {
      end(cause);
    }
  }

  /** Ends the ingest, claimed by the caller, as failed. */
  private void end(Throwable cause) {
    state.set(ENDED);
    file.discard();
    if (reservation != null) {
      writes.release(reservation);
    }
    writes.ended(this, cause);
    followers.failed(cause);
  }

  /** The room claimed for this download, or null (unknown size); settled by whoever ends it. */
  Reservation reservation() {
    return reservation;
  }
}
