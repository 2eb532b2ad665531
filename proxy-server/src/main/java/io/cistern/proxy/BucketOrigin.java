package io.cistern.proxy;

import io.cistern.cache.BlobContent;
import io.cistern.cache.FillSource;
import io.cistern.cache.Ingest;
import io.cistern.cluster.SharedBucket;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.Flow;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * The shared bucket as the first origin of a blob: a GET of the whole object, its bytes written
 * into the fill's ingest as they come, so the clients follow the bucket's stream as they would an
 * upstream's. Absent, or the bucket down: the next origin. A stream that fails part-way hands
 * over to the next origin, which resumes where it stopped.
 */
final class BucketOrigin implements BlobFill.Origin {

  private final SharedBucket bucket;
  private final Executor executor;

  /** @param executor where the bytes are written to disk, off the bucket client's event loop */
  BucketOrigin(SharedBucket bucket, Executor executor) {
    this.bucket = bucket;
    this.executor = executor;
  }

  @Override
  public CompletableFuture<Boolean> fill(BlobFill fill) {
    if (fill.written() > 0) {
      // First in line: nothing has been written before it.
      return CompletableFuture.completedFuture(false);
    }
    return bucket.read(fill.digest()).thenCompose(found -> {
      if (found.isEmpty()) {
        return CompletableFuture.completedFuture(false);
      }
      BlobContent content = found.get();
      return fill.ingestFor(content.length())
          .whenComplete((ingest, refused) -> {
            if (refused != null) {
              content.close();
            }
          })
          .thenCompose(ingest -> new Copy(ingest, executor).from(content))
          .thenApply(copied -> {
            bucket.filled();
            return true;
          });
    });
  }

  /**
   * Writes a stream into an ingest, one buffer at a time: the next is asked for only once the
   * last is on disk, and each write runs on the executor, never on the stream's own thread (the
   * bucket client's event loop). One buffer is in flight at a time. The stream may end (or fail)
   * while that last write still runs; {@code outstanding} counts the stream and the write under
   * way, and whichever of them finishes last ends the copy, so the fill never moves on (to
   * publish, or to another origin writing into the same ingest) before the last write is done.
   * A failed write ends the stream from this side, which may then signal nothing more.
   */
  private static final class Copy implements Flow.Subscriber<ByteBuffer> {

    private final Ingest ingest;
    private final Executor executor;
    private final CompletableFuture<Void> done = new CompletableFuture<>();
    private final AtomicInteger outstanding = new AtomicInteger(1);
    private final AtomicBoolean streamOver = new AtomicBoolean();
    private volatile Throwable failure;
    private Flow.Subscription subscription;

    Copy(Ingest ingest, Executor executor) {
      this.ingest = ingest;
      this.executor = executor;
    }

    CompletableFuture<Void> from(BlobContent content) {
      content.publisher().subscribe(this);
      return done.whenComplete((ignored, failed) -> content.close());
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      this.subscription = subscription;
      subscription.request(1);
    }

    @Override
    public void onNext(ByteBuffer buffer) {
      outstanding.incrementAndGet();
      try {
        executor.execute(() -> write(buffer));
      } catch (RejectedExecutionException stopping) {
        stop(stopping);
        settle();
      }
    }

    private void write(ByteBuffer buffer) {
      if (failure == null) {
        try {
          ingest.append(buffer);
          subscription.request(1);
        } catch (IOException | RuntimeException e) {
          stop(e);
        }
      }
      settle();
    }

    /** Ends the stream from this side: a write failed, or Cistern is stopping. */
    private void stop(Throwable cause) {
      failure = cause;
      subscription.cancel();
      streamEnded();
    }

    @Override
    public void onError(Throwable cause) {
      if (failure == null) {
        failure = cause;
      }
      streamEnded();
    }

    @Override
    public void onComplete() {
      streamEnded();
    }

    /** The stream's share of {@code outstanding} is given back once, however the stream ended. */
    private void streamEnded() {
      if (streamOver.compareAndSet(false, true)) {
        settle();
      }
    }

    private void settle() {
      if (outstanding.decrementAndGet() == 0) {
        Throwable cause = failure;
        if (cause == null) {
          done.complete(null);
        } else {
          done.completeExceptionally(cause);
        }
      }
    }
  }

  @Override
  public FillSource source() {
    return FillSource.BUCKET;
  }

  @Override
  public String toString() {
    return "the bucket";
  }
}
