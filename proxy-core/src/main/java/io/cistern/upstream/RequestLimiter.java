package io.cistern.upstream;

import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A non-blocking counting semaphore: caps one kind of exchange in flight to one upstream
 * ({@link UpstreamLimits}) without parking a thread. A caller that finds no permit gets its own future, completed when a permit is handed
 * to it, so each release wakes exactly one waiter.
 */
final class RequestLimiter {

  private final AtomicInteger permits;
  private final Queue<CompletableFuture<Void>> waiters = new ConcurrentLinkedQueue<>();

  RequestLimiter(int permits) {
    if (permits < 1) {
      throw new IllegalArgumentException("at least one concurrent request is needed");
    }
    this.permits = new AtomicInteger(permits);
  }

  CompletableFuture<Void> acquire() {
    if (tryAcquire()) {
      return CompletableFuture.completedFuture(null);
    }
    CompletableFuture<Void> waiter = new CompletableFuture<>();
    waiters.add(waiter);
    // A release may have run between the failed tryAcquire and the add; hand out what is free.
    handOff();
    return waiter;
  }

  void release() {
    permits.incrementAndGet();
    handOff();
  }

  private void handOff() {
    while (!waiters.isEmpty() && tryAcquire()) {
      CompletableFuture<Void> next = waiters.poll();
      if (next == null) {
        permits.incrementAndGet();
        continue;
      }
      next.complete(null);
    }
  }

  private boolean tryAcquire() {
    while (true) {
      int current = permits.get();
      if (current == 0) {
        return false;
      }
      if (permits.compareAndSet(current, current - 1)) {
        return true;
      }
    }
  }
}
