package io.cistern.proxy;

import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.Ingest;
import java.io.IOException;
import java.net.http.HttpResponse.BodySubscriber;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Writes one upstream response body into an {@link Ingest}, one buffer list at a time: the
 * next list is requested only after the previous one is on disk, so the upstream is read exactly
 * as fast as the disk takes it, whatever the readers do.
 *
 * <p>A response that restarts from byte zero (the upstream ignored our {@code Range}) first has
 * its prefix hashed and compared with the bytes already written; only a matching prefix lets the
 * download go on.
 *
 * <p>The idle watchdog and the body callbacks race to finish the sink; a small state machine
 * (writing / idle / done) settles the race without a lock, and the watchdog never fails a sink
 * in the middle of a write, so a resumed attempt can never write beside a stale one.
 */
final class DownloadSink implements BodySubscriber<Void> {

  private static final int IDLE = 0;
  private static final int WRITING = 1;
  private static final int DONE = 2;

  private final CompletableFuture<Ingest> ready;
  private final MessageDigest expectedPrefix;
  private final MessageDigest prefix;
  private final Duration idleTimeout;
  private final ScheduledExecutorService timer;
  private final CompletableFuture<Void> body = new CompletableFuture<>();
  private final AtomicInteger state = new AtomicInteger(IDLE);
  private long skipRemaining;
  private volatile Flow.Subscription subscription;
  private volatile Ingest ingest;
  private volatile long lastActivityNanos;
  private volatile ScheduledFuture<?> watchdog;

  /**
   * @param ready the blob to write into, once room for it is reserved
   * @param skip bytes at the start of this body that were already written (a restarted download)
   * @param expectedPrefix the hash of those bytes as first written; null when {@code skip} is 0
   */
  DownloadSink(CompletableFuture<Ingest> ready, long skip, MessageDigest expectedPrefix,
      Duration idleTimeout, ScheduledExecutorService timer) {
    this.ready = ready;
    this.skipRemaining = skip;
    this.expectedPrefix = expectedPrefix;
    this.prefix = skip > 0 ? cloneFresh(expectedPrefix) : null;
    this.idleTimeout = idleTimeout;
    this.timer = timer;
  }

  @Override
  public CompletionStage<Void> getBody() {
    return body;
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    ready.whenComplete((blob, failure) -> {
      if (failure != null) {
        finish(failure);
        return;
      }
      ingest = blob;
      lastActivityNanos = System.nanoTime();
      long period = Math.max(50, idleTimeout.toMillis() / 4);
      watchdog = timer.scheduleAtFixedRate(this::checkIdle, period, period, TimeUnit.MILLISECONDS);
      subscription.request(1);
    });
  }

  @Override
  public void onNext(List<ByteBuffer> buffers) {
    if (!state.compareAndSet(IDLE, WRITING)) {
      return;
    }
    try {
      for (ByteBuffer buffer : buffers) {
        consume(buffer);
      }
    } catch (IOException | RuntimeException e) {
      // Straight from writing to done: were the state idle for a moment, the watchdog could end
      // the body first with its idle timeout, and a content mismatch would be retried as a stall.
      state.set(DONE);
      end(e);
      return;
    }
    lastActivityNanos = System.nanoTime();
    state.set(IDLE);
    subscription.request(1);
  }

  private void consume(ByteBuffer buffer) throws IOException {
    if (skipRemaining > 0) {
      int take = (int) Math.min(skipRemaining, buffer.remaining());
      ByteBuffer head = buffer.slice();
      head.limit(take);
      prefix.update(head);
      buffer.position(buffer.position() + take);
      skipRemaining -= take;
      if (skipRemaining == 0 && !MessageDigest.isEqual(prefix.digest(), expectedPrefix.digest())) {
        throw new ContentMismatchException("upstream restarted the blob with different leading bytes");
      }
    }
    if (buffer.hasRemaining()) {
      ingest.append(buffer);
    }
  }

  @Override
  public void onError(Throwable failure) {
    finish(failure);
  }

  @Override
  public void onComplete() {
    if (skipRemaining > 0) {
      finish(new IOException("upstream body ended before the resumed offset"));
      return;
    }
    if (state.compareAndSet(IDLE, DONE)) {
      cancelWatchdog();
      body.complete(null);
    }
  }

  private void checkIdle() {
    long idleNanos = System.nanoTime() - lastActivityNanos;
    if (idleNanos > idleTimeout.toNanos()) {
      // A timeout, as the HTTP client reports an upstream that never answered: both are a stall.
      finish(new HttpTimeoutException("upstream sent nothing for " + idleTimeout.toMillis() + " ms"));
    }
  }

  /** Ends the body with {@code failure} unless it already ended or a write is under way. */
  private void finish(Throwable failure) {
    if (state.compareAndSet(IDLE, DONE)) {
      end(failure);
    }
  }

  /** Stops the upstream and fails the body; the caller has moved the state to done. */
  private void end(Throwable failure) {
    cancelWatchdog();
    Flow.Subscription current = subscription;
    if (current != null) {
      current.cancel();
    }
    body.completeExceptionally(failure);
  }

  private void cancelWatchdog() {
    ScheduledFuture<?> current = watchdog;
    if (current != null) {
      current.cancel(false);
    }
  }

  private static MessageDigest cloneFresh(MessageDigest like) {
    try {
      MessageDigest fresh = (MessageDigest) like.clone();
      fresh.reset();
      return fresh;
    } catch (CloneNotSupportedException e) {
      throw new IllegalStateException("JDK message digests are cloneable", e);
    }
  }
}
