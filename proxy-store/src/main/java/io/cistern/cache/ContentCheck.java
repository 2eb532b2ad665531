package io.cistern.cache;

import io.cistern.oci.Digest;
import java.nio.ByteBuffer;
import java.security.MessageDigest;

/**
 * The check every byte written into a tier passes: hashed as it comes, never more than the size
 * announced, and at the end exactly that size and the digest's hash. One writer at a time.
 */
final class ContentCheck {

  private final Digest digest;
  private final long expectedSize;
  private final MessageDigest hasher;
  private long counted;

  /** @param expectedSize the size announced, or -1 when none was */
  ContentCheck(Digest digest, long expectedSize) {
    this.digest = digest;
    this.expectedSize = expectedSize;
    this.hasher = digest.algorithm().newMessageDigest();
  }

  /**
   * Counts and hashes {@code bytes} (its remaining bytes; its position is left alone).
   *
   * @throws ContentMismatchException when they run past the announced size
   */
  void add(ByteBuffer bytes) throws ContentMismatchException {
    int count = bytes.remaining();
    if (expectedSize >= 0 && counted + count > expectedSize) {
      throw new ContentMismatchException("received more than the announced " + expectedSize + " bytes of " + digest);
    }
    hasher.update(bytes.duplicate());
    counted += count;
  }

  /** The hash state after the bytes counted so far, for a restarted download to compare its prefix with. */
  MessageDigest hashSoFar() {
    try {
      return (MessageDigest) hasher.clone();
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("JDK message digests are cloneable", e);
    }
  }

  /** Checks the whole: the announced size (if any) and the digest. Ends the hash. */
  void verify() throws ContentMismatchException {
    if (expectedSize >= 0 && counted != expectedSize) {
      throw new ContentMismatchException("received " + counted + " of the announced " + expectedSize + " bytes of " + digest);
    }
    Digest actual = Digest.fromBytes(digest.algorithm(), hasher.digest());
    if (!actual.equals(digest)) {
      throw new ContentMismatchException("the content received hashes to " + actual + ", not " + digest);
    }
  }
}
