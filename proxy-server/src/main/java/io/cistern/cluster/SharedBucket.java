package io.cistern.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.BlobContent;
import io.cistern.cache.PutOutcome;
import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.cache.bucket.BucketDocuments;
import io.cistern.cache.bucket.BucketTier;
import io.cistern.cache.bucket.S3Bucket;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The bucket as the cluster's shared tier: content-addressed blobs and manifests that any member
 * may fill its local tier from, and that the member which fetched them from the upstream uploads
 * once verified (a conditional put: the first writer wins, none is ever half-written).
 *
 * <p>The bucket is a help, never a condition: while it is down ({@link BucketHealth}) it is not
 * asked at all, a read that fails is a miss, and an upload that fails is counted and logged, so a
 * pull never fails because of the bucket. Uploads run off the client's path; {@link #settled}
 * tells when those under way have ended (a graceful stop waits for it).
 */
public final class SharedBucket implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(SharedBucket.class);

  private final S3Bucket bucket;
  private final BucketTier tier;
  private final BucketHealth health;
  private final Executor executor;
  private final ClusterObserver observer;
  private final boolean redirect;
  private final Duration presignTtl;
  private final Set<CompletableFuture<?>> underWay = ConcurrentHashMap.newKeySet();
  private volatile ScheduledFuture<?> probes;

  /**
   * @param executor where uploads start (they open local files)
   * @param redirect whether blob GETs the bucket holds are answered with a presigned URL
   */
  public SharedBucket(S3Bucket bucket, Executor executor, ClusterObserver observer, boolean redirect, Duration presignTtl,
      Clock clock) {
    this.bucket = bucket;
    this.tier = new BucketTier(bucket);
    this.health = new BucketHealth(bucket, clock);
    this.executor = executor;
    this.observer = observer;
    this.redirect = redirect;
    this.presignTtl = presignTtl;
  }

  /** Probes the bucket (a HEAD of it) now and every {@code interval}, which is what brings it back once down. */
  public void start(ScheduledExecutorService timer, Duration interval) {
    probes = timer.scheduleWithFixedDelay(this::probeNow, 0, interval.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Probes the bucket now; completes once the answer (or its absence) has set its state. */
  public CompletableFuture<Void> probeNow() {
    return bucket.probe().handle((ok, failure) -> {
      if (failure == null) {
        health.worked();
      } else {
        observer.bucketFailure("probe");
        health.failed(failure, true);
      }
      return null;
    });
  }

  /** Whether the bucket is used now. */
  public boolean reachable() {
    return health.up();
  }

  /** Why the bucket is not used now, or null while it is. */
  public String unreachableReason() {
    return health.reason();
  }

  /** Whether blob GETs the bucket holds are answered with a redirect to it. */
  public boolean redirects() {
    return redirect;
  }

  // ---- blobs ----

  /**
   * The blob, streamed, from {@code blobs/}, else from the pinned copies ({@code pinned/}, which
   * the lifecycle rule on {@code blobs/} does not reach); empty when the bucket holds neither, is
   * down, or fails to answer (a miss, counted).
   */
  public CompletableFuture<Optional<BlobContent>> read(Digest digest) {
    if (!health.up()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return tier.read(digest).thenCompose(found -> found.isPresent()
            ? CompletableFuture.completedFuture(found)
            : tier.readPinned(digest)).handle((content, failure) -> {
      if (failure != null) {
        missed("read", digest, failure);
        return Optional.empty();
      }
      health.worked();
      return content;
    });
  }

  /** The blob's size; empty as for {@link #read}. */
  public CompletableFuture<OptionalLong> size(Digest digest) {
    if (!health.up()) {
      return CompletableFuture.completedFuture(OptionalLong.empty());
    }
    return tier.size(digest).thenCompose(found -> found.isPresent()
            ? CompletableFuture.completedFuture(found)
            : tier.sizePinned(digest)).handle((size, failure) -> {
      if (failure != null) {
        missed("read", digest, failure);
        return OptionalLong.empty();
      }
      health.worked();
      return size;
    });
  }

  /** A blob or manifest the local tier missed came from the bucket (counted). */
  public void filled() {
    observer.bucketFill();
  }

  /** A presigned URL for the blob when redirects are on and the bucket holds it; empty otherwise. */
  public CompletableFuture<Optional<URI>> redirect(Digest digest) {
    if (!redirect || !health.up()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    // Only a blob under blobs/ is redirected to (the URL names that key); a pinned copy is streamed.
    return tier.size(digest).handle((size, failure) -> {
      if (failure != null) {
        missed("read", digest, failure);
        return OptionalLong.empty();
      }
      return size;
    }).thenCompose(size -> size.isEmpty()
        ? CompletableFuture.completedFuture(Optional.<URI>empty())
        : tier.presignedGet(digest, presignTtl));
  }

  /**
   * Uploads the verified blob that {@code local} opens once {@code published} completes (the
   * download is stored locally), off the caller's path, unless the bucket is down then (the upload
   * is skipped: the next member to fetch it from the upstream uploads it). A download that fails
   * uploads nothing. The upload counts as under way ({@link #settled}) from this call on, so a
   * stop, or a test, that waits for uploads also waits for the publication before it.
   */
  public void upload(Digest digest, CompletableFuture<?> published, Supplier<Optional<? extends BlobContent>> local) {
    track(published.handle((stored, failure) -> failure == null)
        .thenCompose(stored -> stored ? uploadNow(digest, local) : CompletableFuture.completedFuture(null)));
  }

  private CompletableFuture<Void> uploadNow(Digest digest, Supplier<Optional<? extends BlobContent>> local) {
    if (!health.up()) {
      observer.bucketUpload("skipped");
      return CompletableFuture.completedFuture(null);
    }
    return CompletableFuture.supplyAsync(local, executor).thenCompose(content -> content.isEmpty()
            // Evicted already: nothing to upload, and someone will fetch it again.
            ? CompletableFuture.completedFuture((PutOutcome) null)
            : tier.putVerified(digest, content.get()))
        .handle((outcome, failure) -> {
          if (failure != null) {
            observer.bucketUpload("failed");
            missed("upload", digest, failure);
          } else if (outcome != null) {
            health.worked();
            observer.bucketUpload(outcome == PutOutcome.STORED ? "stored" : "present");
          }
          return null;
        });
  }

  // ---- manifests and tags ----

  /** The manifest, from the bucket; empty as for {@link #read}. */
  public CompletableFuture<Optional<Manifest>> readManifest(Digest digest) {
    if (!health.up()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return bucket.readManifest(digest).handle((manifest, failure) -> {
      if (failure != null) {
        missed("read", digest, failure);
        return Optional.empty();
      }
      health.worked();
      return manifest;
    });
  }

  /** Uploads a manifest fetched from the upstream, off the caller's path; skipped while the bucket is down. */
  public void uploadManifest(Manifest manifest) {
    if (!health.up()) {
      observer.bucketUpload("skipped");
      return;
    }
    track(bucket.putManifest(manifest).whenComplete((outcome, failure) -> {
      if (failure != null) {
        observer.bucketUpload("failed");
        missed("upload", manifest.digest(), failure);
      } else {
        health.worked();
        observer.bucketUpload(outcome == PutOutcome.STORED ? "stored" : "present");
      }
    }));
  }

  /**
   * What the cluster last learnt of a tag ({@code tags/<upstream>/<repository>/<tag>}: its digest,
   * media type and when the upstream last confirmed it); empty when no member wrote it, the bucket
   * is down, or the document cannot be read.
   */
  public CompletableFuture<Optional<TagMapping>> readTag(TagKey key) {
    if (!health.up()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    return bucket.documents().read(tagDocument(key)).handle((stored, failure) -> {
      if (failure != null) {
        missed("document", key, failure);
        return Optional.empty();
      }
      health.worked();
      return stored.flatMap(document -> SharedTag.parse(document.json()).map(tag -> tag.mapping(key)));
    });
  }

  /**
   * Shares what this member learnt of a tag from the upstream, off the caller's path: the document
   * is created, or replaced if it holds an older confirmation (conditionally on the version read,
   * so of two members writing at once one wins and the other's write is dropped: both hold what
   * the upstream said within a TTL). Skipped while the bucket is down.
   */
  public void writeTag(TagMapping mapping, String mediaType) {
    if (!health.up()) {
      return;
    }
    String name = tagDocument(mapping.key());
    byte[] json = new SharedTag(mapping.digest().toString(), mediaType, mapping.resolvedAt().toString()).json();
    BucketDocuments documents = bucket.documents();
    track(documents.read(name).thenCompose(current -> {
      if (current.isEmpty()) {
        return documents.create(name, json);
      }
      Optional<SharedTag> known = SharedTag.parse(current.get().json());
      if (known.isPresent() && !known.get().mapping(mapping.key()).resolvedAt().isBefore(mapping.resolvedAt())) {
        return CompletableFuture.completedFuture(Optional.<String>empty());
      }
      return documents.replace(name, json, current.get().etag());
    }).whenComplete((written, failure) -> {
      if (failure != null) {
        missed("document", mapping.key(), failure);
      } else {
        health.worked();
      }
    }));
  }

  private static String tagDocument(TagKey key) {
    return "tags/" + key.upstream() + "/" + key.repository() + "/" + key.tag();
  }

  /** A tag document as stored: plain strings, so that any tool can read it. */
  private record SharedTag(String digest, String mediaType, String resolvedAt) {

    private static final ObjectMapper JSON = new ObjectMapper();

    static Optional<SharedTag> parse(byte[] json) {
      try {
        SharedTag tag = JSON.readValue(json, SharedTag.class);
        // Checked here, so a damaged document is no tag rather than a failure later.
        tag.mapping(null);
        return Optional.of(tag);
      } catch (IOException | RuntimeException damaged) {
        log.warn("ignoring a tag document that is not one: {}", damaged.toString());
        return Optional.empty();
      }
    }

    TagMapping mapping(TagKey key) {
      return new TagMapping(key, Digest.parse(digest), Instant.parse(resolvedAt));
    }

    byte[] json() {
      try {
        return JSON.writeValueAsBytes(this);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }
  }

  // ---- bookkeeping ----

  /** Completes when every upload and document write under way now has ended, however. */
  public CompletableFuture<Void> settled() {
    return CompletableFuture.allOf(underWay.stream()
        .map(work -> work.handle((ignored, alsoIgnored) -> null))
        .toArray(CompletableFuture[]::new));
  }

  /** Counts {@code work} as under way until it ends. */
  <T> CompletableFuture<T> track(CompletableFuture<T> work) {
    underWay.add(work);
    work.whenComplete((ignored, alsoIgnored) -> underWay.remove(work));
    return work;
  }

  /** A failed operation: counted, the bucket marked down if it was not reached, else logged. */
  void missed(String operation, Object what, Throwable failure) {
    observer.bucketFailure(operation);
    if (!health.failed(failure, false)) {
      Throwable cause = failure.getCause() != null ? failure.getCause() : failure;
      log.warn("bucket {} of {} failed: {}", operation, what, cause.toString());
    }
  }

  S3Bucket bucket() {
    return bucket;
  }

  BucketHealth health() {
    return health;
  }

  ClusterObserver observer() {
    return observer;
  }

  @Override
  public void close() {
    ScheduledFuture<?> current = probes;
    if (current != null) {
      current.cancel(false);
    }
    bucket.close();
  }

  /** Runs {@code task} on the executor, unless Cistern is stopping. */
  void execute(Runnable task) {
    try {
      executor.execute(task);
    } catch (RejectedExecutionException stopping) {
      // Cistern is stopping: the task was worth doing only while it runs.
    }
  }
}
