package io.cistern.cache.bucket;

/** The object asked for is not in the bucket (a 404 on a read). */
public final class ObjectAbsentException extends BucketException {
  ObjectAbsentException(String key, Throwable cause) {
    super(key + " is not in the bucket", cause);
  }
}
