package io.cistern.cache.bucket;

import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.PutOutcome;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.reactivestreams.FlowAdapters;
import org.reactivestreams.Subscriber;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.exception.AwsServiceException;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.async.AsyncRequestBody;
import software.amazon.awssdk.core.async.AsyncResponseTransformer;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.async.SdkAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;
import software.amazon.awssdk.utils.ThreadFactoryBuilder;

/**
 * The shared object-storage tier: one S3-compatible bucket that every member of a Cistern cluster
 * reads and writes. Blobs are content-addressed ({@code <prefix>/blobs/sha256/<hex>}), written
 * once and never changed, and those of pinned images are copied to {@code <prefix>/pinned/...},
 * which the lifecycle rule the README names for {@code blobs/} does not cover; small JSON documents (tag mappings) live beside them under names the
 * caller chooses. Every call returns a future and never blocks its caller; the client is built in
 * {@link #open} only, so a Cistern without a bucket never loads the SDK.
 *
 * <h2>Writing once, never half-written</h2>
 * A blob goes up in one PUT with {@code If-None-Match: *}: the store publishes an object only when
 * its whole declared Content-Length has arrived, and refuses (412) to replace one that exists. A
 * 412 is success ({@link PutOutcome#ALREADY_PRESENT}): the key names the content, so whatever holds
 * it is right, whether another member won the race or the SDK's retry of this very PUT found its
 * own first attempt, which landed before its answer was lost. {@link DigestGate} hashes the bytes
 * on the way out and sends the last buffer only if the digest matches, so a wrong, short or failing
 * body never completes a PUT, on any store, whatever it does with checksums. Limit: one PUT carries
 * at most {@link #MAX_SINGLE_PUT_BYTES} (5 GiB, AWS's and Ceph's default cap); larger blobs are
 * refused and stay in the local tier. Multipart would lift that, published only by a conditional
 * CompleteMultipartUpload: AWS honours If-None-Match there (since 2024-08, 409 on a conflict) and
 * so does s3proxy's filesystem store (by link(2), like its PUT); Ceph RGW only since its 2025
 * change (ceph/ceph#64830, s3-tests #693); for MinIO and GCS's XML API this was not verified.
 * Parts are invisible until completion everywhere, but a store that ignores the condition on
 * completion would let a racing writer overwrite, which is why it is not done here.
 *
 * <h2>What each store does with the conditions (checked 2026-12)</h2>
 * <ul>
 *   <li>s3proxy 4.0.0, filesystem-nio2 (the tests' store): {@code If-None-Match: *} on PUT is
 *       atomic, by {@code link(2)} of a finished temp file that fails if the key exists (source of
 *       AbstractNio2BlobStore#putBlob; the race test here runs 4 writers x 30 rounds: one 201,
 *       the rest 412, every time). An interrupted PUT leaves no object (its temp file, beside the
 *       key, is deleted). {@code If-Match: <etag>} is emulated as a check followed by a write:
 *       two racing replaces from one ETag both succeeded in 30 of 30 tries of a one-off probe, so on
 *       s3proxy documents are last-writer-wins, and tests must not race If-Match.
 *       Presigned SigV4 URLs are checked: signature, and X-Amz-Date + X-Amz-Expires against its
 *       clock (at most 7 days).</li>
 *   <li>AWS S3: If-None-Match: * on PUT and CompleteMultipartUpload (2024-08), If-Match: <etag>
 *       on both (2024-11), atomic; 412 on a failed condition, 409 ConditionalRequestConflict when
 *       writes collide (retried here), 404 for If-Match on a missing key.</li>
 *   <li>MinIO: If-None-Match and If-Match on PUT (minio/minio#19681, 2024); one release wrote
 *       through an If-Match on a missing key (minio/minio#21526, fixed).</li>
 *   <li>Ceph RGW: PUT passes If-Match / If-None-Match to the head-object write (rgw_op.cc,
 *       {@code processor->complete(..., if_match, if_nomatch)}); it answers 412, not 404, to
 *       If-Match on a missing key (both mean "not replaced" here).</li>
 *   <li>GCS XML API: its native create-only condition is {@code x-goog-if-generation-match: 0};
 *       whether it honours If-None-Match: * on PUT was not verified: check before naming it.</li>
 *   <li>OpenStack Swift's S3 layer refuses conditional PUTs (the shared notes); not supported.</li>
 * </ul>
 *
 * <h2>What the SDK does here (2.59.1, verified against s3proxy)</h2>
 * A PUT goes out with a plain Content-Length, {@code x-amz-content-sha256: UNSIGNED-PAYLOAD} and
 * no aws-chunked encoding, even over http: checksums are set to WHEN_REQUIRED, since the default
 * CRC trailer is refused by several S3-compatible stores. A file body is read in 16 KiB chunks,
 * never whole; a GET body is a stream of the buffers Netty receives. The SDK retries (3 attempts,
 * jittered back-off) on connection failures, 5xx and throttling, re-subscribing to the body; a
 * body that failed with an IOException would be retried too, which DigestGate prevents. A HEAD
 * of a key in a bucket that does not exist is a bodyless 404, so {@link #size} says "absent"
 * there: {@link #probe} is what tells a missing bucket (refused) from a dead endpoint
 * (unreachable). The presigner signs at {@code Instant.now()} and takes no clock.
 *
 * <h2>Cost</h2>
 * The SDK is the async S3 client over its Netty client, run on Cistern's Netty 4.2 (see
 * {@link #nioEventLoopGroup}) with two I/O threads and one timer thread; the Apache clients it
 * names by default are excluded. It adds about 9.6 MB of jars; opening a bucket and making the
 * first request loads about 3,200 classes (some 1,100 of them the SDK's, 600 Netty's that the
 * server shares) and costs about 0.6 s, and 40 MiB of RSS with a small heap (-Xmx64m -Xmn8m) up
 * to 60 MiB with the JVM's default heap sizing, most of it metaspace, code and heap pages touched
 * while the SDK starts. None of it is paid without a bucket.
 */
public final class S3Bucket implements AutoCloseable {

  /**
   * The largest blob one PUT may carry: AWS S3's limit, and Ceph RGW's default
   * {@code rgw_max_put_size}. A larger blob is refused rather than uploaded in parts (see the
   * class comment).
   */
  public static final long MAX_SINGLE_PUT_BYTES = 5L << 30;

  /**
   * Event-loop threads for the bucket's connections. Two keep a few Gbit/s of streamed bodies
   * moving while costing two idle threads; the SDK's default is two per core.
   */
  private static final int IO_THREADS = 2;

  private final BucketSettings settings;
  private final String blobRoot;
  private final String pinnedRoot;
  private final ScheduledExecutorService retryTimer;
  private final EventLoopGroup ioThreads;
  private final AwsCredentialsProvider credentials;
  private final SdkAsyncHttpClient http;
  private final S3AsyncClient s3;
  private final S3Presigner presigner;
  private final BucketDocuments documents = new BucketDocuments(this);

  private S3Bucket(BucketSettings settings) {
    this.settings = settings;
    this.blobRoot = settings.prefix().isEmpty() ? "blobs/" : settings.prefix() + "/blobs/";
    this.pinnedRoot = settings.prefix().isEmpty() ? "pinned/" : settings.prefix() + "/pinned/";
    // One thread for the SDK's timers (retry back-off, timeouts) instead of its default five.
    this.retryTimer = Executors.newSingleThreadScheduledExecutor(
        new ThreadFactoryBuilder().threadNamePrefix("cistern-bucket-timer").daemonThreads(true).build());
    this.credentials = settings.keys() == null
        ? DefaultCredentialsProvider.builder().build()
        : StaticCredentialsProvider.create(
            AwsBasicCredentials.create(settings.keys().accessKeyId(), settings.keys().secretAccessKey()));
    this.ioThreads = nioEventLoopGroup();
    this.http = NettyNioAsyncHttpClient.builder()
        .eventLoopGroup(SdkEventLoopGroup.create(ioThreads))
        .maxConcurrency(settings.maxConnections())
        .connectionTimeout(settings.connectTimeout())
        .readTimeout(settings.idleTimeout())
        .writeTimeout(settings.idleTimeout())
        .build();
    var client = S3AsyncClient.builder()
        .httpClient(http)
        .region(Region.of(settings.region()))
        .credentialsProvider(credentials)
        .forcePathStyle(settings.pathStyle())
        // Checksums only where the API demands them: the SDK's default (a CRC on every upload,
        // sent as an aws-chunked trailer) is refused by several S3-compatible stores, and the
        // digest is checked anyway, by DigestGate on the way up and by readers on the way down.
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .overrideConfiguration(o -> o
            .scheduledExecutorService(retryTimer)
            // The SDK's standard retries (jittered exponential back-off, 3 attempts), and also
            // AWS's 409 ConditionalRequestConflict, which its docs say to retry: a conditional
            // write raced another on the same key and the retry learns who won (412).
            .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                .retryOnException(BucketErrors::isConditionalConflict)
                .build()));
    var presign = S3Presigner.builder()
        .region(Region.of(settings.region()))
        .credentialsProvider(credentials)
        .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(settings.pathStyle()).build());
    if (settings.endpoint() != null) {
      client.endpointOverride(settings.endpoint());
      presign.endpointOverride(settings.endpoint());
    }
    this.s3 = client.build();
    this.presigner = presign.build();
  }

  /**
   * The client's event loop, on Cistern's Netty (4.2). The SDK is built for Netty 4.1 and picks
   * channel types by the group's class: it knows {@code NioEventLoopGroup}, deprecated in 4.2 but
   * working, and refuses 4.2's {@code MultiThreadIoEventLoopGroup} even with a channel factory
   * given (it also resolves a datagram channel; aws-sdk-java-v2 #6757). Creating the group here
   * rather than letting the SDK do it lets {@link #close} stop it without the SDK's blocking
   * two-second quiet period.
   */
  @SuppressWarnings("deprecation")
  private static EventLoopGroup nioEventLoopGroup() {
    return new io.netty.channel.nio.NioEventLoopGroup(IO_THREADS, new DefaultThreadFactory("cistern-bucket-io", true));
  }

  /** Builds the client for {@code settings}. Nothing is sent until the first call. */
  public static S3Bucket open(BucketSettings settings) {
    return new S3Bucket(settings);
  }

  /**
   * Checks that the bucket exists and these credentials may use it (a HEAD of the bucket): the
   * readiness check. Fails with {@link BucketUnreachableException} or {@link BucketRefusedException}.
   */
  public CompletableFuture<Void> probe() {
    return mapFailure(s3.headBucket(b -> b.bucket(settings.bucket())), "bucket " + settings.bucket(), false)
        .thenApply(response -> null);
  }

  /** The blob's size, from a HEAD; empty when the bucket does not hold it. */
  public CompletableFuture<OptionalLong> size(Digest digest) {
    return size(blobKey(digest));
  }

  /** The pinned copy's size, from a HEAD; empty when there is none. */
  public CompletableFuture<OptionalLong> sizePinned(Digest digest) {
    return size(pinnedKey(digest));
  }

  private CompletableFuture<OptionalLong> size(String key) {
    return s3.headObject(b -> b.bucket(settings.bucket()).key(key))
        .handle((response, failure) -> {
          if (failure == null) {
            return OptionalLong.of(response.contentLength());
          }
          RuntimeException error = BucketErrors.classify(failure, key, true);
          if (error instanceof ObjectAbsentException) {
            return OptionalLong.empty();
          }
          throw error;
        });
  }

  /** The whole blob, streamed. Fails with {@link ObjectAbsentException} when it is not there. */
  public CompletableFuture<BucketObject> read(Digest digest) {
    return get(blobKey(digest), null);
  }

  /**
   * {@code length} bytes of the blob from {@code offset}, streamed (a ranged GET). A range past the
   * end is refused by the store (416: {@link BucketRefusedException}); callers check the size first.
   */
  public CompletableFuture<BucketObject> read(Digest digest, long offset, long length) {
    if (offset < 0 || length < 1) {
      throw new IllegalArgumentException("a ranged read needs offset >= 0 and length >= 1");
    }
    return get(blobKey(digest), "bytes=" + offset + "-" + (offset + length - 1));
  }

  /**
   * Uploads the verified blob in {@code file} ({@code size} bytes) unless the bucket holds it
   * already. The bytes are hashed again on their way out and the last of them is sent only if the
   * digest matches (see {@link DigestGate}), so a file changed since it was verified fails with
   * {@link ContentMismatchException} and leaves nothing behind.
   */
  public CompletableFuture<PutOutcome> putVerified(Digest digest, Path file, long size) {
    long onDisk;
    try {
      onDisk = Files.size(file);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
    if (onDisk != size) {
      return CompletableFuture.failedFuture(
          new ContentMismatchException(file + " holds " + onDisk + " bytes, not the " + size + " of " + digest));
    }
    // A file body can be read again, so the SDK's retries each re-read and re-check it.
    AsyncRequestBody fileBody = AsyncRequestBody.fromFile(file);
    return putVerified(digest, FlowAdapters.toFlowPublisher(fileBody), size);
  }

  /**
   * Uploads {@code size} bytes of the blob as {@code body} publishes them, unless the bucket holds
   * it already: nothing is buffered, and the last bytes go out only once the digest has matched, so
   * a wrong, short or failing stream publishes nothing. A retry of the upload subscribes to
   * {@code body} again; a publisher that cannot replay makes that retry fail.
   *
   * @return {@link PutOutcome#STORED} or {@link PutOutcome#ALREADY_PRESENT}; fails with
   *     {@link ContentMismatchException} for bytes that are not the blob, with the stream's own
   *     error when it fails, or with a {@link BucketException}
   */
  public CompletableFuture<PutOutcome> putVerified(Digest digest, Flow.Publisher<ByteBuffer> body, long size) {
    if (size < 0) {
      throw new IllegalArgumentException("a blob's size is never negative");
    }
    if (size > MAX_SINGLE_PUT_BYTES) {
      return CompletableFuture.failedFuture(new BucketRefusedException(digest + " has " + size
          + " bytes, more than one PUT may carry (" + MAX_SINGLE_PUT_BYTES + "); it stays in the local tier only", null));
    }
    if (size == 0 && !digest.matches(new byte[0])) {
      // No last byte to hold back: an empty body is checked here instead.
      return CompletableFuture.failedFuture(new ContentMismatchException("an empty body is not " + digest));
    }
    String key = blobKey(digest);
    AsyncRequestBody gated = sized(new DigestGate(body, digest, size), size);
    return conditionalPut(key, gated, size, null, "application/octet-stream")
        .thenApply(etag -> etag.isPresent() ? PutOutcome.STORED : PutOutcome.ALREADY_PRESENT);
  }

  /**
   * Uploads a verified manifest under its digest, beside the blobs (it is content-addressed like
   * them, and written once the same way), with its media type as the object's Content-Type, which
   * {@link #readManifest} gives back. Held in memory, so it is checked here and sent in one go.
   */
  public CompletableFuture<PutOutcome> putManifest(Manifest manifest) {
    if (!manifest.digest().matches(manifest.bytes())) {
      return CompletableFuture.failedFuture(new ContentMismatchException("the manifest's bytes are not " + manifest.digest()));
    }
    byte[] bytes = manifest.bytes();
    return conditionalPut(blobKey(manifest.digest()), AsyncRequestBody.fromBytes(bytes), bytes.length, null,
        manifest.mediaType())
        .thenApply(etag -> etag.isPresent() ? PutOutcome.STORED : PutOutcome.ALREADY_PRESENT);
  }

  /**
   * The manifest stored under {@code digest}, checked against it, its media type from the object's
   * Content-Type (or, failing that, its own {@code mediaType} field); empty when the bucket holds
   * nothing there, or holds something that is no manifest (a layer asked for as one: at most
   * {@link Manifest#MAX_BYTES} of it are read). Looked for under {@code blobs/}, then under
   * {@code pinned/}.
   */
  public CompletableFuture<Optional<Manifest>> readManifest(Digest digest) {
    return readManifest(digest, blobKey(digest)).thenCompose(found -> found.isPresent()
        ? CompletableFuture.completedFuture(found)
        : readManifest(digest, pinnedKey(digest)));
  }

  private CompletableFuture<Optional<Manifest>> readManifest(Digest digest, String key) {
    return s3.getObject(b -> b.bucket(settings.bucket()).key(key).range("bytes=0-" + Manifest.MAX_BYTES),
            AsyncResponseTransformer.toBytes())
        .handle((response, failure) -> {
          if (failure != null) {
            RuntimeException error = BucketErrors.classify(failure, key, true);
            if (error instanceof ObjectAbsentException) {
              return Optional.<Manifest>empty();
            }
            throw error;
          }
          byte[] bytes = response.asByteArray();
          if (bytes.length > Manifest.MAX_BYTES || !digest.matches(bytes)) {
            return Optional.<Manifest>empty();
          }
          String type = response.response().contentType();
          type = type == null ? null : type.split(";")[0].trim();
          if (!MediaTypes.isManifest(type)) {
            try {
              type = ManifestDocument.parse(bytes).mediaType();
            } catch (RuntimeException notJson) {
              return Optional.<Manifest>empty();
            }
          }
          return MediaTypes.isManifest(type) ? Optional.of(new Manifest(digest, type, bytes)) : Optional.<Manifest>empty();
        });
  }

  // ---- pinned copies: beyond the reach of a lifecycle rule on blobs/ ----

  /** The pinned copy of the blob or manifest, streamed. Fails with {@link ObjectAbsentException} when there is none. */
  public CompletableFuture<BucketObject> readPinned(Digest digest) {
    return get(pinnedKey(digest), null);
  }

  /**
   * Copies the blob or manifest from {@code blobs/} to {@code pinned/} inside the store (a
   * server-side CopyObject: no byte passes through Cistern; metadata, the Content-Type included,
   * is copied). The copy is content-addressed like its source, so copying again, or two members
   * copying at once, writes the same bytes.
   *
   * @return false when {@code blobs/} does not hold it (then {@link #putPinned} can upload it)
   */
  public CompletableFuture<Boolean> copyToPinned(Digest digest) {
    String source = blobKey(digest);
    return s3.copyObject(b -> b.sourceBucket(settings.bucket()).sourceKey(source)
            .destinationBucket(settings.bucket()).destinationKey(pinnedKey(digest)))
        .handle((response, failure) -> {
          if (failure == null) {
            return true;
          }
          RuntimeException error = BucketErrors.classify(failure, source, true);
          if (error instanceof ObjectAbsentException) {
            return false;
          }
          throw error;
        });
  }

  /**
   * Uploads the pinned copy of a blob or manifest from {@code size} verified bytes, as
   * {@link #putVerified} uploads to {@code blobs/} (digest-gated, {@code If-None-Match: *}).
   */
  public CompletableFuture<PutOutcome> putPinned(Digest digest, Flow.Publisher<ByteBuffer> body, long size,
      String contentType) {
    if (size < 0 || size > MAX_SINGLE_PUT_BYTES) {
      return CompletableFuture.failedFuture(new BucketRefusedException(digest + " has " + size
          + " bytes, more than one PUT may carry (" + MAX_SINGLE_PUT_BYTES + ")", null));
    }
    if (size == 0 && !digest.matches(new byte[0])) {
      return CompletableFuture.failedFuture(new ContentMismatchException("an empty body is not " + digest));
    }
    AsyncRequestBody gated = sized(new DigestGate(body, digest, size), size);
    return conditionalPut(pinnedKey(digest), gated, size, null, contentType)
        .thenApply(etag -> etag.isPresent() ? PutOutcome.STORED : PutOutcome.ALREADY_PRESENT);
  }

  /** Removes the pinned copy; removing one that is not there succeeds too. */
  public CompletableFuture<Void> deletePinned(Digest digest) {
    String key = pinnedKey(digest);
    return mapFailure(s3.deleteObject(b -> b.bucket(settings.bucket()).key(key)), key, false)
        .thenApply(response -> null);
  }

  /** Removes the blob; removing one that is not there succeeds too. */
  public CompletableFuture<Void> delete(Digest digest) {
    String key = blobKey(digest);
    return mapFailure(s3.deleteObject(b -> b.bucket(settings.bucket()).key(key)), key, false)
        .thenApply(response -> null);
  }

  /**
   * A URL that lets anyone holding it GET the blob for {@code ttl}, without credentials: for
   * answering a client with a redirect. Signed locally (SigV4 query parameters, signing time now),
   * so nothing is sent; the URL stops working after {@code ttl} (at most 7 days, and no longer than
   * temporary credentials live).
   */
  public CompletableFuture<URI> presignedGet(Digest digest, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(Duration.ofDays(7)) > 0) {
      throw new IllegalArgumentException("a presigned URL lives between 1 second and 7 days, not " + ttl);
    }
    String key = blobKey(digest);
    // Resolving the credentials first, asynchronously, means the signing below finds them cached
    // and never blocks the caller on a credentials endpoint.
    return credentials.resolveIdentity()
        .thenApply(identity -> {
          try {
            return presigner.presignGetObject(p -> p
                    .signatureDuration(ttl)
                    .getObjectRequest(g -> g.bucket(settings.bucket()).key(key)))
                .url().toURI();
          } catch (URISyntaxException e) {
            throw new IllegalStateException("the SDK signed an invalid URL", e);
          }
        });
  }

  /** The small JSON documents kept beside the blobs. */
  public BucketDocuments documents() {
    return documents;
  }

  /** The keys under {@code keyPrefix}, every page of them (for the few documents of pins and tags). */
  CompletableFuture<List<String>> list(String keyPrefix) {
    List<String> keys = new ArrayList<>();
    return mapFailure(s3.listObjectsV2Paginator(b -> b.bucket(settings.bucket()).prefix(keyPrefix))
        .subscribe(page -> page.contents().forEach(object -> keys.add(object.key()))), keyPrefix, false)
        .thenApply(done -> keys);
  }

  /** Removes the object {@code key}; removing one that is not there succeeds too. */
  CompletableFuture<Void> deleteKey(String key) {
    return mapFailure(s3.deleteObject(b -> b.bucket(settings.bucket()).key(key)), key, false)
        .thenApply(response -> null);
  }

  /** The object {@code key} whole, with its ETag; empty when there is none. For small objects. */
  CompletableFuture<Optional<StoredDocument>> readSmall(String key) {
    return s3.getObject(b -> b.bucket(settings.bucket()).key(key), AsyncResponseTransformer.toBytes())
        .handle((response, failure) -> {
          if (failure == null) {
            return Optional.of(new StoredDocument(response.asByteArray(), response.response().eTag()));
          }
          RuntimeException error = BucketErrors.classify(failure, key, true);
          if (error instanceof ObjectAbsentException) {
            return Optional.empty();
          }
          throw error;
        });
  }

  /** Closes the client, its connections and its threads. */
  @Override
  public void close() {
    presigner.close();
    s3.close();
    http.close();
    if (credentials instanceof AutoCloseable closeable) {
      try {
        closeable.close();
      } catch (Exception e) {
        // Nothing to do about a credentials cache that fails to stop while shutting down.
      }
    }
    retryTimer.shutdownNow();
    // No quiet period: every request has ended or failed with the client's close.
    ioThreads.shutdownGracefully(0, 5, TimeUnit.SECONDS);
  }

  @Override
  public String toString() {
    return "S3Bucket[" + settings.bucket() + "/" + settings.prefix()
        + (settings.endpoint() == null ? "" : " at " + settings.endpoint()) + "]";
  }

  /** {@code <prefix>/blobs/<algorithm>/<hex>}. */
  String blobKey(Digest digest) {
    return blobRoot + digest.algorithm().prefix() + "/" + digest.hex();
  }

  /** {@code <prefix>/pinned/<algorithm>/<hex>}. */
  String pinnedKey(Digest digest) {
    return pinnedRoot + digest.algorithm().prefix() + "/" + digest.hex();
  }

  /** {@code <prefix>/<name>}. */
  String key(String name) {
    return settings.prefix().isEmpty() ? name : settings.prefix() + "/" + name;
  }

  /**
   * A PUT with {@code If-Match: etag}, or {@code If-None-Match: *} when {@code etag} is null.
   * Completes with the new ETag, or empty when the condition did not hold (412; and 404 for an
   * If-Match on a key that is gone, as AWS answers).
   */
  CompletableFuture<Optional<String>> conditionalPut(String key, AsyncRequestBody body, long size, String etag, String contentType) {
    return s3.putObject(b -> {
          b.bucket(settings.bucket()).key(key).contentLength(size).contentType(contentType);
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

  private CompletableFuture<BucketObject> get(String key, String range) {
    return s3.getObject(b -> b.bucket(settings.bucket()).key(key).range(range), AsyncResponseTransformer.toPublisher())
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

  private <T> CompletableFuture<T> mapFailure(CompletableFuture<T> call, String what, boolean read) {
    return call.handle((value, failure) -> {
      if (failure != null) {
        throw BucketErrors.classify(failure, what, read);
      }
      return value;
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
