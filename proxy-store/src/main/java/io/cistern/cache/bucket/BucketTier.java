package io.cistern.cache.bucket;

import io.cistern.cache.BlobContent;
import io.cistern.cache.BlobTier;
import io.cistern.cache.PutOutcome;
import io.cistern.oci.Digest;
import java.net.URI;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * The bucket as a {@link BlobTier}: its reads are streams ({@link BlobContent.Streamed}), relayed
 * as the bucket delivers them, and a put uploads whatever content it is given (a file region of
 * the local disk, or another tier's stream) through {@link S3Bucket}'s conditional, digest-gated
 * PUT. An absent object is an empty answer; the bucket's other failures pass through as its
 * {@link BucketException}s.
 */
public final class BucketTier implements BlobTier {

  private final S3Bucket bucket;

  public BucketTier(S3Bucket bucket) {
    this.bucket = bucket;
  }

  @Override
  public CompletableFuture<OptionalLong> size(Digest digest) {
    return bucket.size(digest);
  }

  @Override
  public CompletableFuture<Optional<BlobContent>> read(Digest digest) {
    return content(bucket.read(digest), -1);
  }

  @Override
  public CompletableFuture<Optional<BlobContent>> read(Digest digest, long offset, long length) {
    CompletableFuture<BucketObject> ranged;
    try {
      ranged = bucket.read(digest, offset, length);
    } catch (IllegalArgumentException e) {
      return CompletableFuture.failedFuture(e);
    }
    return content(ranged, length);
  }

  /** The pinned copy of the blob or manifest ({@code pinned/}), streamed; empty when there is none. */
  public CompletableFuture<Optional<BlobContent>> readPinned(Digest digest) {
    return content(bucket.pinned().read(digest), -1);
  }

  /** The pinned copy's size; empty when there is none. */
  public CompletableFuture<OptionalLong> sizePinned(Digest digest) {
    return bucket.pinned().size(digest);
  }

  /** The object as content; empty when absent. A range the bucket cut short (past the end) fails. */
  private static CompletableFuture<Optional<BlobContent>> content(CompletableFuture<BucketObject> get, long asked) {
    return get.handle((object, failure) -> {
      if (failure != null) {
        Throwable cause = BucketErrors.unwrap(failure);
        if (cause instanceof ObjectAbsentException) {
          return Optional.empty();
        }
        throw cause instanceof RuntimeException runtime ? runtime : new CompletionException(cause);
      }
      BlobContent.Streamed content = new BlobContent.Streamed(object.length(), object.body());
      if (asked >= 0 && object.length() != asked) {
        content.close();
        throw new IllegalArgumentException("asked for " + asked + " bytes from " + object.offset() + ", and the object has "
            + object.objectSize());
      }
      return Optional.of(content);
    });
  }

  @Override
  public CompletableFuture<PutOutcome> putVerified(Digest digest, BlobContent content) {
    CompletableFuture<PutOutcome> put;
    try {
      put = bucket.putVerified(digest, content.publisher(), content.length());
    } catch (RuntimeException e) {
      put = CompletableFuture.failedFuture(e);
    }
    return put.whenComplete((outcome, failure) -> content.close());
  }

  @Override
  public CompletableFuture<Void> delete(Digest digest) {
    return bucket.delete(digest);
  }

  @Override
  public CompletableFuture<Optional<URI>> presignedGet(Digest digest, Duration ttl) {
    return bucket.presignedGet(digest, ttl).thenApply(Optional::of);
  }
}
