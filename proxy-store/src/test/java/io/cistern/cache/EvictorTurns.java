package io.cistern.cache;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Follows the evictor's turns, so that a test can wait until it has caught up with the stores
 * that poked it, without waiting on a clock. Give it to {@link CacheFixtures#open}.
 */
final class EvictorTurns implements EvictorObserver {

  /** Someone waiting for the turns that serve the first {@code pokes} pokes. */
  private record Waiter(long pokes, CompletableFuture<Void> done) {}

  /** The last finished turn: how many pokes it served, and how it ended (null: well). */
  private record Served(long pokes, Throwable failure) {}

  private final AtomicLong pokes = new AtomicLong();
  private final ConcurrentLinkedQueue<Waiter> waiters = new ConcurrentLinkedQueue<>();
  private volatile Served served = new Served(0, null);
  private volatile boolean stopped;

  @Override
  public void poked(long poke) {
    pokes.accumulateAndGet(poke, Math::max);
  }

  @Override
  public void turnEnded(long pokes, Throwable failure) {
    served = new Served(pokes, failure);
    answer(pokes, failure);
  }

  @Override
  public void stopped() {
    stopped = true;
    answer(Long.MAX_VALUE, new IllegalStateException("the evictor has stopped"));
  }

  /**
   * Completes once the evictor has served every poke made before the call, including the pass
   * each was due: after a burst, the moment the cap holds again (unless what is left is pinned).
   * It does not poke the evictor itself, so it shows whether stores poked as they should.
   * Exceptional if such a turn failed, or if the evictor stopped first.
   */
  CompletableFuture<Void> caughtUp() {
    Waiter waiter = new Waiter(pokes.get(), new CompletableFuture<>());
    waiters.add(waiter);
    // Either the turn that ends after this add sees the waiter, or this read sees that turn's end.
    Served last = served;
    answer(last.pokes(), last.failure());
    if (stopped) {
      answer(Long.MAX_VALUE, new IllegalStateException("the evictor has stopped"));
    }
    return waiter.done();
  }

  /** Answers those waiting for no more than {@code servedPokes} pokes. */
  private void answer(long servedPokes, Throwable failure) {
    for (Waiter waiter : waiters) {
      if (waiter.pokes() <= servedPokes && waiters.remove(waiter)) {
        if (failure == null) {
          waiter.done().complete(null);
        } else {
          waiter.done().completeExceptionally(failure);
        }
      }
    }
  }
}
