package io.cistern.cache.bucket;

import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.PutOutcome;
import io.cistern.oci.Digest;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import org.reactivestreams.FlowAdapters;
import org.reactivestreams.Subscriber;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.core.ResponseBytes;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;

/**
 * The S3 requests Cistern makes on the keys of one bucket, each built here and each failure turned
 * into the bucket's domain exceptions ({@link BucketErrors}); which key holds what is
 * {@link BucketKeys}'s business. Every call returns a future and never blocks its caller.
 */
final class ObjectRequests {

  private final S3AsyncClient s3;
  private final S3Presigner presigner;
  private final AwsCredentialsProvider credentials;
  private final String bucket;

  ObjectRequests(S3AsyncClient s3, S3Presigner presigner, AwsCredentialsProvider credentials, String bucket) {
    this.s3 = s3;
    this.presigner = presigner;
    this.credentials = credentials;
    this.bucket = bucket;
  }

  /** A HEAD of the bucket itself. */
  CompletableFuture<Void> headBucket() {
    return BucketErrors.mapped(s3.headBucket(b -> b.bucket(bucket)), "bucket " + bucket, false)
        .thenApply(response -> null);
  }

  /** The object's size, from a HEAD; empty when there is none. */
  CompletableFuture<OptionalLong> size(String key) {
    return s3.headObject(b -> b.bucket(bucket).key(key))
        .handle((response, failure) -> failure == null
            ? OptionalLong.of(response.contentLength())
            : BucketErrors.absentAs(failure, key, OptionalLong.empty()));
  }

  /**
   * The object, streamed, whole ({@code range} null) or the HTTP range asked for. Fails with
   * {@link ObjectAbsentException} when there is none.
   */
  CompletableFuture<BucketObject> get(String key, String range) {
    return s3.getObject(b -> b.bucket(bucket).key(key).range(range), AsyncResponseTransformer.toPublisher())
        .handle((response, failure) -> {
          if (failure != null) {
            throw BucketErrors.classify(failure, key, true);
          }
          GetObjectResponse head = response.response();
          long length = head.contentLength();
          long offset = 0;
          long objectSize = length;
          if (head.contentRange() != null) {
            // "bytes 10-19/100"
            String contentRange = head.contentRange();
            int space = contentRange.indexOf(' ');
            int dash = contentRange.indexOf('-', space);
            int slash = contentRange.indexOf('/', dash);
            offset = Long.parseLong(contentRange.substring(space + 1, dash));
            objectSize = Long.parseLong(contentRange.substring(slash + 1));
          }
          return new BucketObject(offset, length, objectSize, FlowAdapters.toFlowPublisher(response));
        });
  }

  /**
   * The object in memory, whole ({@code range} null) or the HTTP range asked for, with its
   * response headers; empty when there is none. For small objects.
   */
  CompletableFuture<Optional<ResponseBytes<GetObjectResponse>>> getBytes(String key, String range) {
    return s3.getObject(b -> b.bucket(bucket).key(key).range(range), AsyncResponseTransformer.toBytes())
        .handle((response, failure) -> failure == null
            ? Optional.of(response)
            : BucketErrors.absentAs(failure, key, Optional.empty()));
  }

  /**
   * A PUT with {@code If-Match: etag}, or {@code If-None-Match: *} when {@code etag} is null.
   * Completes with the new ETag, or empty when the condition did not hold (412; and 404 for an
   * If-Match on a key that is gone, as AWS answers).
   */
  CompletableFuture<Optional<String>> conditionalPut(String key, AsyncRequestBody body, long size, String etag,
      String contentType) {
    return s3.putObject(b -> {
          b.bucket(bucket).key(key).contentLength(size).contentType(contentType);
          if (etag == null) {
            b.ifNoneMatch("*");
          } else {
            b.ifMatch(etag);
          }
        }, body)
        .handle((response, failure) -> {
          if (failure == null) {
            return Optional.of(response.eTag());
          }
          Throwable cause = BucketErrors.unwrap(failure);
          if (cause instanceof AwsServiceException e
              && (e.statusCode() == 412 || (etag != null && e.statusCode() == 404))) {
            return Optional.<String>empty();
          }
          throw BucketErrors.classify(failure, key, false);
        });
  }

  /**
   * Writes content-addressed bytes once ({@code If-None-Match: *}): a 412 means the key holds them
   * already, whoever wrote them, since the key names the content.
   */
  CompletableFuture<PutOutcome> putOnce(String key, AsyncRequestBody body, long size, String contentType) {
    return conditionalPut(key, body, size, null, contentType)
        .thenApply(etag -> etag.isPresent() ? PutOutcome.STORED : PutOutcome.ALREADY_PRESENT);
  }

  /**
   * {@link #putOnce} of {@code size} bytes that must be {@code digest}: they go out through a
   * {@link DigestGate}, so a wrong, short or failing stream completes no PUT. The caller has
   * checked {@code size} against what one PUT may carry.
   */
  CompletableFuture<PutOutcome> putGated(String key, Digest digest, Flow.Publisher<ByteBuffer> body, long size,
      String contentType) {
    if (size == 0 && !digest.matches(new byte[0])) {
      // No last byte to hold back: an empty body is checked here instead.
      return CompletableFuture.failedFuture(new ContentMismatchException("an empty body is not " + digest));
    }
    return putOnce(key, sized(new DigestGate(body, digest, size), size), size, contentType);
  }

  /**
   * A server-side CopyObject within the bucket (no byte passes through Cistern; metadata, the
   * Content-Type included, is copied).
   *
   * @return false when {@code source} does not exist
   */
  CompletableFuture<Boolean> copy(String source, String destination) {
    return s3.copyObject(b -> b.sourceBucket(bucket).sourceKey(source).destinationBucket(bucket).destinationKey(destination))
        .handle((response, failure) -> failure == null || BucketErrors.absentAs(failure, source, false));
  }

  /** Removes the object {@code key}; removing one that is not there succeeds too. */
  CompletableFuture<Void> delete(String key) {
    return BucketErrors.mapped(s3.deleteObject(b -> b.bucket(bucket).key(key)), key, false)
        .thenApply(response -> null);
  }

  /** The keys under {@code keyPrefix}, every page of them (for the few documents of pins and tags). */
  CompletableFuture<List<String>> list(String keyPrefix) {
    List<String> keys = new ArrayList<>();
    return BucketErrors.mapped(s3.listObjectsV2Paginator(b -> b.bucket(bucket).prefix(keyPrefix))
        .subscribe(page -> page.contents().forEach(object -> keys.add(object.key()))), keyPrefix, false)
        .thenApply(done -> keys);
  }

  /** A URL that GETs {@code key} without credentials for {@code ttl}, signed locally (SigV4, now). */
  CompletableFuture<URI> presignGet(String key, Duration ttl) {
    // Resolving the credentials first, asynchronously, means the signing below finds them cached
    // and never blocks the caller on a credentials endpoint.
    return credentials.resolveIdentity()
        .thenApply(identity -> {
          try {
            return presigner.presignGetObject(p -> p
                    .signatureDuration(ttl)
                    .getObjectRequest(g -> g.bucket(bucket).key(key)))
                .url().toURI();
          } catch (URISyntaxException e) {
            throw new IllegalStateException("the SDK signed an invalid URL", e);
          }
        });
  }

  /** {@code publisher} as a request body of a known length, so the PUT carries Content-Length. */
  private static AsyncRequestBody sized(Flow.Publisher<ByteBuffer> publisher, long size) {
    return new AsyncRequestBody() {
      @Override
      public Optional<Long> contentLength() {
        return Optional.of(size);
      }

      @Override
      public void subscribe(Subscriber<? super ByteBuffer> subscriber) {
        publisher.subscribe(FlowAdapters.toFlowSubscriber(subscriber));
      }
    };
  }
}
