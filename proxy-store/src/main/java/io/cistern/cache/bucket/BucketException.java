package io.cistern.cache.bucket;

/**
 * Why a bucket operation failed, in the three ways a caller acts on differently: the bucket
 * could not be reached ({@link BucketUnreachableException}: degrade to the local tier and the
 * upstream, and try again later), the object is not there ({@link ObjectAbsentException}: fetch
 * it elsewhere), or the bucket answered and said no ({@link BucketRefusedException}: a
 * configuration or permission problem that retrying will not fix). Unchecked, as they travel as
 * the causes of failed futures.
 */
public abstract sealed class BucketException extends RuntimeException
    permits BucketUnreachableException, ObjectAbsentException, BucketRefusedException {

  BucketException(String message, Throwable cause) {
    super(message, cause);
  }
}
