package io.cistern.cache.bucket;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.exception.SdkClientException;

/** How the SDK's failures become the bucket's domain exceptions. */
final class BucketErrors {

  private BucketErrors() {}

  /**
   * What a failed call means for the caller. Errors that are not the bucket's (the digest check,
   * the body's own stream) pass through as they are, unwrapped from the SDK's exceptions.
   *
   * @param what the key or bucket, for the message
   * @param read whether a 404 means the object is absent (a GET or HEAD), rather than a refusal
   */
  static RuntimeException classify(Throwable failure, String what, boolean read) {
    Throwable cause = unwrap(failure);
    for (Throwable t = cause; t != null; t = t.getCause()) {
      if (t instanceof DigestGate.Stopped stopped) {
        return stopped.getCause() instanceof RuntimeException runtime ? runtime : new CompletionException(stopped.getCause());
      }
    }
    if (cause instanceof BucketException bucket) {
      return bucket;
    }
    if (cause instanceof AwsServiceException e) {
      int status = e.statusCode();
      String code = e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
      if (read && status == 404 && !"NoSuchBucket".equals(code)) {
        return new ObjectAbsentException(what, e);
      }
      if (status >= 500 || status == 429) {
        return new BucketUnreachableException(what + ": the bucket answered " + status + (code == null ? "" : " " + code), e);
      }
      return new BucketRefusedException(what + ": the bucket refused with " + status + (code == null ? "" : " " + code), e);
    }
    if (cause instanceof SdkClientException) {
      return new BucketUnreachableException(what + ": " + cause.getMessage(), cause);
    }
    return cause instanceof RuntimeException runtime ? runtime : new CompletionException(cause);
  }

  /** {@code call}, its failure (if any) {@linkplain #classify classified}. */
  static <T> CompletableFuture<T> mapped(CompletableFuture<T> call, String what, boolean read) {
    return call.handle((value, failure) -> {
      if (failure != null) {
        throw classify(failure, what, read);
      }
      return value;
    });
  }

  /**
   * {@code absent} when a read failed because {@code key} is not in the bucket; any other failure
   * {@linkplain #classify classified} and thrown.
   */
  static <T> T absentAs(Throwable failure, String key, T absent) {
    RuntimeException error = classify(failure, key, true);
    if (error instanceof ObjectAbsentException) {
      return absent;
    }
    throw error;
  }

  static Throwable unwrap(Throwable failure) {
    Throwable cause = failure;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  /** AWS's 409 to two conditional writes of one key at once, which its docs say to retry. */
  static boolean isConditionalConflict(Throwable failure) {
    return failure instanceof AwsServiceException e && e.statusCode() == 409
        && e.awsErrorDetails() != null && "ConditionalRequestConflict".equals(e.awsErrorDetails().errorCode());
  }
}
