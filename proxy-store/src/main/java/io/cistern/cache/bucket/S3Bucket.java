package io.cistern.cache.bucket;

import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.PutOutcome;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import java.io.IOException;
import java.net.URI;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;
import org.reactivestreams.FlowAdapters;
import software.amazon.awssdk.core.async.AsyncRequestBody;

/**
 * The shared object-storage tier: one S3-compatible bucket that every member of a Cistern cluster
 * reads and writes. Blobs and manifests are content-addressed and written once, by a PUT with
 * {@code If-None-Match: *} whose last bytes go out only once they matched their digest
 * ({@link DigestGate}), so the bucket never holds a wrong or half-written object, and "already
 * there" (412) is success whoever wrote it. Beside them are the {@linkplain #pinned() pinned
 * copies} and the small {@linkplain #documents() documents} of tags and pins. Every call returns a
 * future and never blocks its caller. The client is built by {@link #open} only, so a Cistern
 * without a bucket never loads the SDK. Why one PUT rather than multipart, what each store does
 * with the conditions, and what the SDK costs: the README's "A cluster of Cisterns".
 */
public final class S3Bucket implements AutoCloseable {

  /**
   * The largest blob one PUT may carry: AWS S3's limit, and Ceph RGW's default
   * {@code rgw_max_put_size}. A larger blob is refused rather than uploaded in parts (multipart
   * completion is conditional on too few stores: see the README).
   */
  public static final long MAX_SINGLE_PUT_BYTES = 5L << 30;

  private final BucketSettings settings;
  private final BucketKeys keys;
  private final BucketConnection connection;
  private final ObjectRequests requests;
  private final PinnedCopies pinned;
  private final BucketDocuments documents;

  private S3Bucket(BucketSettings settings) {
    this.settings = settings;
    this.keys = new BucketKeys(settings.prefix());
    this.connection = new BucketConnection(settings);
    this.requests = connection.requests(settings.bucket());
    this.pinned = new PinnedCopies(requests, keys);
    this.documents = new BucketDocuments(requests, keys);
  }

  /** Builds the client for {@code settings}. Nothing is sent until the first call. */
  public static S3Bucket open(BucketSettings settings) {
    return new S3Bucket(settings);
  }

  /**
   * Checks that the bucket exists and these credentials may use it (a HEAD of the bucket): the
   * readiness check. Fails with {@link BucketUnreachableException} or {@link BucketRefusedException}.
   * A HEAD of a key in a bucket that does not exist is a bodyless 404, which {@link #size} takes
   * for "absent": this is what tells a missing bucket (refused) from a dead endpoint (unreachable).
   */
  public CompletableFuture<Void> probe() {
    return requests.headBucket();
  }

  /** The blob's size, from a HEAD; empty when the bucket does not hold it. */
  public CompletableFuture<OptionalLong> size(Digest digest) {
    return requests.size(keys.blob(digest));
  }

  /** The whole blob, streamed. Fails with {@link ObjectAbsentException} when it is not there. */
  public CompletableFuture<BucketObject> read(Digest digest) {
    return requests.get(keys.blob(digest), null);
  }

  /**
   * {@code length} bytes of the blob from {@code offset}, streamed (a ranged GET). A range past the
   * end is refused by the store (416: {@link BucketRefusedException}); callers check the size first.
   */
  public CompletableFuture<BucketObject> read(Digest digest, long offset, long length) {
    if (offset < 0 || length < 1) {
      throw new IllegalArgumentException("a ranged read needs offset >= 0 and length >= 1");
    }
    return requests.get(keys.blob(digest), "bytes=" + offset + "-" + (offset + length - 1));
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
    return requests.putGated(keys.blob(digest), digest, body, size, "application/octet-stream");
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
    return requests.putOnce(keys.blob(manifest.digest()), AsyncRequestBody.fromBytes(bytes), bytes.length,
        manifest.mediaType());
  }

  /**
   * The manifest stored under {@code digest}, checked against it, its media type from the object's
   * Content-Type (or, failing that, its own {@code mediaType} field); empty when the bucket holds
   * nothing there, or holds something that is no manifest (a layer asked for as one: at most
   * {@link Manifest#MAX_BYTES} of it are read). Looked for under {@code blobs/}, then under
   * {@code pinned/}.
   */
  public CompletableFuture<Optional<Manifest>> readManifest(Digest digest) {
    return readManifest(digest, keys.blob(digest)).thenCompose(found -> found.isPresent()
        ? CompletableFuture.completedFuture(found)
        : readManifest(digest, keys.pinned(digest)));
  }

  private CompletableFuture<Optional<Manifest>> readManifest(Digest digest, String key) {
    return requests.getBytes(key, "bytes=0-" + Manifest.MAX_BYTES).thenApply(found -> {
      if (found.isEmpty()) {
        return Optional.<Manifest>empty();
      }
      byte[] bytes = found.get().asByteArray();
      if (bytes.length > Manifest.MAX_BYTES || !digest.matches(bytes)) {
        return Optional.<Manifest>empty();
      }
      String type = found.get().response().contentType();
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

  /** Removes the blob; removing one that is not there succeeds too. */
  public CompletableFuture<Void> delete(Digest digest) {
    return requests.delete(keys.blob(digest));
  }

  /**
   * A URL that lets anyone holding it GET the blob for {@code ttl}, without credentials: for
   * answering a client with a redirect. Signed locally (SigV4 query parameters, signing time now:
   * the presigner takes no clock), so nothing is sent; the URL stops working after {@code ttl} (at
   * most 7 days, and no longer than temporary credentials live).
   */
  public CompletableFuture<URI> presignedGet(Digest digest, Duration ttl) {
    if (ttl.isNegative() || ttl.isZero() || ttl.compareTo(Duration.ofDays(7)) > 0) {
      throw new IllegalArgumentException("a presigned URL lives between 1 second and 7 days, not " + ttl);
    }
    return requests.presignGet(keys.blob(digest), ttl);
  }

  /** The copies of pinned images' blobs and manifests, out of the lifecycle rule's reach. */
  public PinnedCopies pinned() {
    return pinned;
  }

  /** The small JSON documents kept beside the blobs. */
  public BucketDocuments documents() {
    return documents;
  }

  /** Closes the client, its connections and its threads. */
  @Override
  public void close() {
    connection.close();
  }

  @Override
  public String toString() {
    return "S3Bucket[" + settings.bucket() + "/" + settings.prefix()
        + (settings.endpoint() == null ? "" : " at " + settings.endpoint()) + "]";
  }
}
