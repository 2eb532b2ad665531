package io.cistern.cache.bucket;

import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.PutOutcome;
import io.cistern.oci.Digest;
import java.nio.ByteBuffer;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * The pinned copies of blobs and manifests, under {@code <prefix>/pinned/}: what a pin keeps in
 * the bucket beyond the reach of the lifecycle rule the README names for {@code blobs/}. A copy is
 * content-addressed like its source, so copying or uploading it again, or two members doing so at
 * once, writes the same bytes.
 */
public final class PinnedCopies {

  private final ObjectRequests requests;
  private final BucketKeys keys;

  PinnedCopies(ObjectRequests requests, BucketKeys keys) {
    this.requests = requests;
    this.keys = keys;
  }

  /** The pinned copy's size, from a HEAD; empty when there is none. */
  public CompletableFuture<OptionalLong> size(Digest digest) {
    return requests.size(keys.pinned(digest));
  }

  /** The pinned copy, streamed. Fails with {@link ObjectAbsentException} when there is none. */
  public CompletableFuture<BucketObject> read(Digest digest) {
    return requests.get(keys.pinned(digest), null);
  }

  /**
   * Copies the blob or manifest from {@code blobs/} to {@code pinned/} inside the store (a
   * server-side CopyObject: no byte passes through Cistern; metadata, the Content-Type included,
   * is copied).
   *
   * @return false when {@code blobs/} does not hold it (then {@link #put} can upload it)
   */
  public CompletableFuture<Boolean> copyFromBlobs(Digest digest) {
    return requests.copy(keys.blob(digest), keys.pinned(digest));
  }

  /**
   * Uploads the pinned copy of a blob or manifest from {@code size} verified bytes, as
   * {@link S3Bucket#putVerified(Digest, Flow.Publisher, long)} uploads to {@code blobs/}
   * (digest-gated, {@code If-None-Match: *}).
   *
   * @return {@link PutOutcome#STORED} or {@link PutOutcome#ALREADY_PRESENT}; fails with
   *     {@link ContentMismatchException} for bytes that are not {@code digest}, or with a
   *     {@link BucketRefusedException} for a size one PUT cannot carry
   */
  public CompletableFuture<PutOutcome> put(Digest digest, Flow.Publisher<ByteBuffer> body, long size, String contentType) {
    if (size < 0 || size > S3Bucket.MAX_SINGLE_PUT_BYTES) {
      return CompletableFuture.failedFuture(new BucketRefusedException(digest + " has " + size
          + " bytes, more than one PUT may carry (" + S3Bucket.MAX_SINGLE_PUT_BYTES + ")", null));
    }
    return requests.putGated(keys.pinned(digest), digest, body, size, contentType);
  }

  /** Removes the pinned copy; removing one that is not there succeeds too. */
  public CompletableFuture<Void> delete(Digest digest) {
    return requests.delete(keys.pinned(digest));
  }
}
