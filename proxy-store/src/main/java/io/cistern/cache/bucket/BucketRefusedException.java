package io.cistern.cache.bucket;

/**
 * The bucket answered and refused: wrong credentials or permissions, no such bucket, a request
 * the store does not support, an object too large for one PUT. Not transient; the message names
 * the status and the store's error code.
 */
public final class BucketRefusedException extends BucketException {
  BucketRefusedException(String message, Throwable cause) {
    super(message, cause);
  }
}
