package io.cistern.cache;

import io.cistern.oci.Digest;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;

/**
 * Where verified blobs are kept, by digest: what the node's local disk ({@link DiskTier}) and a
 * shared object store both can do. Content is addressed by its digest, so a blob is written once
 * and never changes; a tier never holds a blob half-written or with bytes that are not its digest's.
 *
 * <p>Every call returns a future, since a remote store answers over the network; the disk answers
 * with completed futures, so its hits cost no hand-off. What a tier does not do through this
 * interface, on purpose: list what it holds (a remote store's listing is slow and costs money;
 * recovery walks the disk with the disk's own methods), write content that is not verified, or
 * hand out content a reader could see change.
 */
public interface BlobTier {

  /** The blob's size (a HEAD); empty when the tier does not hold it. */
  CompletableFuture<OptionalLong> size(Digest digest);

  /** The whole blob; empty when the tier does not hold it. */
  CompletableFuture<Optional<BlobContent>> read(Digest digest);

  /**
   * {@code length} bytes of the blob from {@code offset} (a ranged read); empty when the tier does
   * not hold it. The range holds at least one byte and lies within the blob (callers know its
   * size): one that does not fails.
   */
  CompletableFuture<Optional<BlobContent>> read(Digest digest, long offset, long length);

  /**
   * Stores {@code content} as the blob {@code digest} unless the tier holds it already, checking
   * its size and digest on the way: content that is not the blob fails with
   * {@link ContentMismatchException} and leaves nothing behind. The content is consumed (read to
   * its end, or until the mismatch) and closed.
   *
   * @return {@link PutOutcome#STORED}, or {@link PutOutcome#ALREADY_PRESENT} when the tier held
   *     the blob already (another writer's, or an earlier attempt's): both are success
   */
  CompletableFuture<PutOutcome> putVerified(Digest digest, BlobContent content);

  /**
   * Removes the blob; removing one that is not there succeeds too. Content read before the delete
   * stays readable to its end.
   */
  CompletableFuture<Void> delete(Digest digest);

  /**
   * A URL that lets a client GET the blob straight from the tier for {@code ttl}, without
   * credentials; empty when the tier has no such URLs (the local disk).
   */
  default CompletableFuture<Optional<URI>> presignedGet(Digest digest, Duration ttl) {
    return CompletableFuture.completedFuture(Optional.empty());
  }
}
