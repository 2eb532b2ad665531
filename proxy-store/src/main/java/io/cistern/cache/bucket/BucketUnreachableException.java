package io.cistern.cache.bucket;

/**
 * The bucket did not answer, or answered only with server errors, after the client's own retries:
 * connection refused or reset, a timeout, a 5xx or a throttling reply. Transient by nature.
 */
public final class BucketUnreachableException extends BucketException {
  BucketUnreachableException(String message, Throwable cause) {
    super(message, cause);
  }
}
