package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.FileTime;
import java.security.MessageDigest;

/**
 * What reading one stored file back found: whether it is still the blob its digest names.
 * {@link #of} is the one way Cistern re-hashes stored content ({@code cistern verify}, the scrub,
 * and recovery adopting a file it knows nothing of); it holds no lock and no database connection
 * while it reads, so a caller may take as long as its pace needs.
 *
 * @param problem what is wrong, or null when the file is whole
 * @param expectedSize the size it should have, or -1 when nothing says (a file with no row)
 * @param actualSize its size on disk, or -1 when it is missing
 * @param detail what was found, for an operator ("hashes to sha256:…"); null when whole
 * @param identity which file was read (its inode and modification time: an inode number alone
 *     can be reused by the next file created), so that a repair moves that file and never a newer
 *     copy published since; null when there was no file
 */
public record BlobCheck(Digest digest, Problem problem, long expectedSize, long actualSize, String detail, Object identity) {

  /** What can be wrong with a stored blob. */
  public enum Problem {
    /** The file's size is not the size recorded when it was verified: cut short, or grown. */
    SIZE_MISMATCH,
    /** The right size, but the bytes hash to another digest: a flipped bit, an overwritten block. */
    DIGEST_MISMATCH,
    /** The row says it is stored, but there is no file. */
    MISSING,
    /** The file cannot be read (an I/O error, its permissions). */
    UNREADABLE
  }

  /**
   * Told of each chunk (up to 1 MiB) before it is read, with its size: a pacer may wait there, a
   * progress display count it.
   */
  @FunctionalInterface
  public interface Reads {
    Reads UNPACED = bytes -> {};

    void next(int bytes) throws InterruptedException;
  }

  static final int CHUNK = 1 << 20;

  public boolean intact() {
    return problem == null;
  }

  /** Tells one file from another, even one created where a deleted one was. */
  private record FileIdentity(Object key, FileTime modified) {}

  static Object identityOf(BasicFileAttributes attributes) {
    return new FileIdentity(attributes.fileKey(), attributes.lastModifiedTime());
  }

  /**
   * Reads {@code file} and checks it against {@code digest} and, when known, {@code expectedSize}
   * (a wrong size is reported without reading the bytes).
   *
   * @throws InterruptedException when {@code reads} was interrupted (a stop); nothing is reported
   */
  public static BlobCheck of(Path file, Digest digest, long expectedSize, Reads reads) throws InterruptedException {
    BasicFileAttributes attributes;
    try {
      attributes = Files.readAttributes(file, BasicFileAttributes.class);
    } catch (NoSuchFileException e) {
      return new BlobCheck(digest, Problem.MISSING, expectedSize, -1, "no file at " + file, null);
    } catch (IOException e) {
      return new BlobCheck(digest, Problem.UNREADABLE, expectedSize, -1, "cannot stat " + file + ": " + e, null);
    }
    long size = attributes.size();
    Object key = identityOf(attributes);
    if (expectedSize >= 0 && size != expectedSize) {
      return new BlobCheck(digest, Problem.SIZE_MISMATCH, expectedSize, size,
          size + " bytes on disk, " + expectedSize + " recorded", key);
    }
    MessageDigest hasher = digest.algorithm().newMessageDigest();
    ByteBuffer buffer = ByteBuffer.allocateDirect(CHUNK);
    long read = 0;
    try (FileChannel channel = FileChannel.open(file, StandardOpenOption.READ)) {
      while (true) {
        long remaining = size - read;
        if (remaining > 0) {
          reads.next((int) Math.min(CHUNK, remaining));
        }
        buffer.clear();
        int n = channel.read(buffer);
        if (n < 0) {
          break;
        }
        buffer.flip();
        hasher.update(buffer);
        read += n;
      }
    } catch (NoSuchFileException e) {
      return new BlobCheck(digest, Problem.MISSING, expectedSize, -1, "no file at " + file, null);
    } catch (IOException e) {
      return new BlobCheck(digest, Problem.UNREADABLE, expectedSize, size, "cannot read " + file + ": " + e, key);
    }
    if (expectedSize >= 0 && read != expectedSize) {
      // Cut (or grown) while it was being read.
      return new BlobCheck(digest, Problem.SIZE_MISMATCH, expectedSize, read,
          read + " bytes read, " + expectedSize + " recorded", key);
    }
    Digest actual = Digest.fromBytes(digest.algorithm(), hasher.digest());
    if (!actual.equals(digest)) {
      return new BlobCheck(digest, Problem.DIGEST_MISMATCH, expectedSize, read, "its bytes hash to " + actual, key);
    }
    return new BlobCheck(digest, null, expectedSize, read, null, key);
  }
}
