package io.cistern.http;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Counts the requests of the registry port that are between arrival and the end of their answer,
 * so a stop can wait for them to drain.
 *
 * <p>Concurrency: a counter, a flag and one future, no lock. {@link #drained} sets the flag before
 * reading the count, and {@link #exit} decrements before reading the flag, so whichever of the two
 * comes second sees the other's write: the future cannot be missed.
 */
public final class ActiveRequests {

  private final AtomicInteger count = new AtomicInteger();
  private final CompletableFuture<Void> drained = new CompletableFuture<>();
  private volatile boolean draining;

  void enter() {
    count.incrementAndGet();
  }

  void exit() {
    if (count.decrementAndGet() == 0 && draining) {
      drained.complete(null);
    }
  }

  public int count() {
    return count.get();
  }

  /** Completes as soon as no request is active (at once if none is). */
  public CompletableFuture<Void> drained() {
    draining = true;
    if (count.get() == 0) {
      drained.complete(null);
    }
    return drained;
  }
}
