package io.cistern.proxy;

import java.net.http.HttpResponse.BodySubscriber;
import java.net.http.HttpTimeoutException;
import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Flow;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The body of a ranged upstream GET, handed on to the one client that asked for the range: the
 * HTTP client's buffer lists, one buffer at a time as that client asks (it asks for the next once
 * the last is on its way to its socket). The next list is asked of the upstream only once every
 * buffer of the last was handed on, so at most one list is held, and the upstream is read at the
 * client's pace. The body the HTTP client (and the blob downloads' permit) waits for ends when the
 * upstream's does, or when the client cancels.
 *
 * <p>A relay must not hold an upstream connection open for nothing: one that the client does not
 * take, or whose upstream sends nothing while the client waits, for {@code idleTimeout}, is
 * cancelled and fails, and the client's connection is cut rather than left hanging.
 *
 * <p>Whoever waits for the range to be in (a cold blob's download, see {@link RangeRelay}) is told
 * once: when the last of its bytes has come from the upstream, before it goes on to the client, or
 * when the body ends early.
 *
 * <p>Threads: the upstream's signals come on the HTTP client's threads, the client's requests on
 * its event loop. Every signal to the client goes through one drain loop that one thread at a
 * time runs (a work counter hands it over), so they are serial as {@link Flow} requires.
 */
final class RelayedBody implements BodySubscriber<Void>, Flow.Publisher<ByteBuffer> {

  private final Duration idleTimeout;
  private final ScheduledExecutorService timer;
  private final long length;
  private final Runnable rangeIn;
  private final AtomicBoolean toldRangeIn = new AtomicBoolean();
  /** Bytes come from the upstream so far; written by the HTTP client's serial signals only. */
  private long received;
  private final CompletableFuture<Void> subscribed = new CompletableFuture<>();
  private final CompletableFuture<Void> body = new CompletableFuture<>();
  private final Queue<ByteBuffer> buffers = new ConcurrentLinkedQueue<>();
  private final AtomicLong demand = new AtomicLong();
  private final AtomicInteger work = new AtomicInteger();
  private final AtomicBoolean taken = new AtomicBoolean();
  private volatile Flow.Subscription upstream;
  private volatile Flow.Subscriber<? super ByteBuffer> client;
  /** A list was asked of the upstream and has not come yet. */
  private volatile boolean waitingForUpstream;
  private volatile boolean upstreamEnded;
  private volatile Throwable failure;
  /** Told the client its end, or cancelled by it: nothing more goes to the client. */
  private volatile boolean over;
  private volatile long lastActivityNanos = System.nanoTime();
  private volatile ScheduledFuture<?> watchdog;

  /**
   * @param timer runs the idle watchdog
   * @param length the range's length, as the upstream announced it
   * @param rangeIn told once, when all {@code length} bytes have come or the body ended
   */
  RelayedBody(Duration idleTimeout, ScheduledExecutorService timer, long length, Runnable rangeIn) {
    this.idleTimeout = idleTimeout;
    this.timer = timer;
    this.length = length;
    this.rangeIn = rangeIn;
  }

  /** Completes once the upstream's body can be asked for: the moment to hand it to the client. */
  CompletableFuture<Void> subscribed() {
    return subscribed;
  }

  // ---- the upstream's side: the HTTP client's threads ----

  @Override
  public CompletionStage<Void> getBody() {
    return body;
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    upstream = subscription;
    lastActivityNanos = System.nanoTime();
    long period = Math.max(50, idleTimeout.toMillis() / 4);
    watchdog = timer.scheduleAtFixedRate(this::checkIdle, period, period, TimeUnit.MILLISECONDS);
    subscribed.complete(null);
  }

  @Override
  public void onNext(List<ByteBuffer> item) {
    for (ByteBuffer buffer : item) {
      if (buffer.hasRemaining()) {
        received += buffer.remaining();
        buffers.add(buffer);
      }
    }
    if (received >= length) {
      tellRangeIn();
    }
    lastActivityNanos = System.nanoTime();
    waitingForUpstream = false;
    drain();
  }

  @Override
  public void onError(Throwable throwable) {
    end(throwable);
  }

  @Override
  public void onComplete() {
    end(null);
  }

  private void end(Throwable cause) {
    tellRangeIn();
    failure = cause;
    upstreamEnded = true;
    stopWatchdog();
    if (cause == null) {
      body.complete(null);
    } else {
      body.completeExceptionally(cause);
    }
    drain();
  }

  private void tellRangeIn() {
    if (toldRangeIn.compareAndSet(false, true)) {
      rangeIn.run();
    }
  }

  private void checkIdle() {
    boolean untaken = client == null;
    if ((untaken || waitingForUpstream) && !upstreamEnded
        && System.nanoTime() - lastActivityNanos > idleTimeout.toNanos()) {
      upstream.cancel();
      end(new HttpTimeoutException(untaken
          ? "no client took the relayed range within " + idleTimeout.toMillis() + " ms"
          : "upstream sent nothing for " + idleTimeout.toMillis() + " ms"));
    }
  }

  private void stopWatchdog() {
    ScheduledFuture<?> current = watchdog;
    if (current != null) {
      current.cancel(false);
    }
  }

  // ---- the client's side: its event loop ----

  @Override
  public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
    if (!taken.compareAndSet(false, true)) {
      subscriber.onSubscribe(new Flow.Subscription() {
        @Override
        public void request(long n) {}

        @Override
        public void cancel() {}
      });
      subscriber.onError(new IllegalStateException("a relayed range goes to one client"));
      return;
    }
    lastActivityNanos = System.nanoTime();
    subscriber.onSubscribe(new Flow.Subscription() {
      @Override
      public void request(long n) {
        demand.addAndGet(n);
        drain();
      }

      @Override
      public void cancel() {
        over = true;
        stopWatchdog();
        upstream.cancel();
        body.complete(null);
        tellRangeIn();
      }
    });
    client = subscriber;
    drain();
  }

  /** Hands the client what it asked for and has come, its end once all has, and asks the upstream for more. */
  private void drain() {
    if (work.getAndIncrement() != 0) {
      return;
    }
    do {
      Flow.Subscriber<? super ByteBuffer> to = client;
      if (to != null && !over) {
        ByteBuffer next;
        while (demand.get() > 0 && (next = buffers.poll()) != null) {
          demand.decrementAndGet();
          to.onNext(next);
        }
        if (buffers.isEmpty() && upstreamEnded) {
          over = true;
          if (failure != null) {
            to.onError(failure);
          } else {
            to.onComplete();
          }
        } else if (buffers.isEmpty() && demand.get() > 0 && !waitingForUpstream) {
          waitingForUpstream = true;
          lastActivityNanos = System.nanoTime();
          upstream.request(1);
        }
      }
    } while (work.decrementAndGet() != 0);
  }
}
