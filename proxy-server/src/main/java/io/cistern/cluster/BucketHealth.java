package io.cistern.cluster;

import io.cistern.cache.bucket.BucketException;
import io.cistern.cache.bucket.BucketRefusedException;
import io.cistern.cache.bucket.BucketUnreachableException;
import io.cistern.cache.bucket.S3Bucket;
import java.time.Clock;
import java.time.Instant;
import java.util.concurrent.CompletionException;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Whether the bucket can be used now. It is down from the first operation that could not reach
 * it (or a probe the bucket refused: a missing bucket, wrong credentials) until an operation or a
 * probe works again; while it is down the bucket is not asked for reads (pulls go to the members
 * and the upstream at once) and nothing is uploaded. Each change is logged once.
 *
 * <p>Threads: the state is one atomic reference, changed by compare-and-set, so of many callers
 * that see the same change at once exactly one logs it.
 */
final class BucketHealth {

  private static final Logger log = LoggerFactory.getLogger(BucketHealth.class);

  /** Why the bucket is down, since when; null while it is up. */
  private record Down(String reason, Instant since) {}

  private final String name;
  private final Clock clock;
  private final AtomicReference<Down> down = new AtomicReference<>();

  BucketHealth(S3Bucket bucket, Clock clock) {
    this.name = bucket.toString();
    this.clock = clock;
  }

  boolean up() {
    return down.get() == null;
  }

  /** Why the bucket is down and since when, or null while it is up. */
  String reason() {
    Down current = down.get();
    return current == null ? null : current.reason() + " (since " + current.since() + ")";
  }

  /** An operation reached the bucket (whatever it answered). */
  void worked() {
    Down current = down.get();
    if (current != null && down.compareAndSet(current, null)) {
      log.info("{} is reachable again: serving and uploading through it", name);
    }
  }

  /**
   * An operation failed: the bucket is down if it was not reached (or refused a probe). Returns
   * whether that was the cause, so that the caller may fall back.
   */
  boolean failed(Throwable failure, boolean probe) {
    BucketException cause = bucketCause(failure);
    if (!(cause instanceof BucketUnreachableException) && !(probe && cause instanceof BucketRefusedException)) {
      return false;
    }
    Down next = new Down(cause.getMessage(), clock.instant());
    if (down.compareAndSet(null, next)) {
      log.warn("{} is unreachable ({}): serving from the local tier, the members and the upstream until it is back",
          name, cause.getMessage());
    }
    return true;
  }

  static BucketException bucketCause(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof BucketException bucket) {
        return bucket;
      }
      if (!(t instanceof CompletionException) && t.getCause() == t) {
        break;
      }
    }
    return null;
  }
}
