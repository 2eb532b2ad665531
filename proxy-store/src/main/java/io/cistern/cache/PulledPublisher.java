package io.cistern.cache;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.Flow;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Publishes {@code length} bytes read from a {@link Source} one chunk per item asked for, each read
 * on the thread that asks ({@code request}), so nothing is read ahead of demand and no thread of
 * its own is needed. Every subscription reads from the start.
 *
 * <p>Concurrency: {@code request} may be called from any thread, and again from inside
 * {@code onNext}. One drain loop at a time delivers (the work-in-progress counter: whoever raises
 * it from zero drains, the others only add demand and leave), so signals to a subscriber never
 * overlap and a re-entrant request never recurses.
 */
final class PulledPublisher implements Flow.Publisher<ByteBuffer> {

  static final int CHUNK_SIZE = 64 * 1024;

  /** Where the bytes come from. */
  @FunctionalInterface
  interface Source {
    /** {@code bytes} bytes (at least 1) from {@code offset}, ready to read. */
    ByteBuffer read(long offset, int bytes) throws IOException;
  }

  private final long length;
  private final Source source;

  PulledPublisher(long length, Source source) {
    this.length = length;
    this.source = source;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super ByteBuffer> subscriber) {
    Pull pull = new Pull(subscriber);
    subscriber.onSubscribe(pull);
    // An empty body completes without being asked.
    pull.drain();
  }

  private final class Pull implements Flow.Subscription {

    private final Flow.Subscriber<? super ByteBuffer> subscriber;
    private final AtomicLong demand = new AtomicLong();
    private final AtomicInteger work = new AtomicInteger();
    private volatile boolean cancelled;
    /** Touched only inside the drain loop. */
    private long position;
    private boolean done;

    Pull(Flow.Subscriber<? super ByteBuffer> subscriber) {
      this.subscriber = subscriber;
    }

    @Override
    public void request(long n) {
      if (n <= 0) {
        cancelled = true;
        subscriber.onError(new IllegalArgumentException("asked for " + n + " items (rule 3.9)"));
        return;
      }
      demand.getAndAccumulate(n, (current, more) -> current + more < 0 ? Long.MAX_VALUE : current + more);
      drain();
    }

    @Override
    public void cancel() {
      cancelled = true;
    }

    void drain() {
      if (work.getAndIncrement() != 0) {
        return;
      }
      int missed = 1;
      do {
        while (!done && !cancelled) {
          if (position == length) {
            done = true;
            subscriber.onComplete();
          } else if (demand.get() > 0) {
            ByteBuffer chunk;
            try {
              chunk = source.read(position, (int) Math.min(CHUNK_SIZE, length - position));
            } catch (IOException | RuntimeException e) {
              done = true;
              subscriber.onError(e);
              break;
            }
            position += chunk.remaining();
            demand.decrementAndGet();
            subscriber.onNext(chunk);
          } else {
            break;
          }
        }
        missed = work.addAndGet(-missed);
      } while (missed != 0);
    }
  }
}
