package io.cistern.ops;

import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;

/**
 * Keeps a stream of reads at or under a rate: each read may start once the reads before it have
 * had their time at that rate, so over any stretch of time at most {@code rate × time} bytes plus
 * one read go by. Time not used is not saved up: a pause does not earn a burst after it.
 *
 * <p>One thread uses it (the scrub's); its clock and its sleep are given, so a test paces without
 * waiting.
 */
final class Pacer {

  /** Waits; the scrub's stop interrupts it. */
  @FunctionalInterface
  interface Sleeper {
    void sleep(long nanos) throws InterruptedException;
  }

  private final long bytesPerSecond;
  private final LongSupplier nanoTime;
  private final Sleeper sleeper;
  private long nextStart;
  private boolean started;

  Pacer(long bytesPerSecond, LongSupplier nanoTime, Sleeper sleeper) {
    if (bytesPerSecond <= 0) {
      throw new IllegalArgumentException("a pace must be positive: " + bytesPerSecond);
    }
    this.bytesPerSecond = bytesPerSecond;
    this.nanoTime = nanoTime;
    this.sleeper = sleeper;
  }

  /** A pacer on the system's clock that sleeps for real. */
  static Pacer of(long bytesPerSecond) {
    return new Pacer(bytesPerSecond, System::nanoTime, TimeUnit.NANOSECONDS::sleep);
  }

  long bytesPerSecond() {
    return bytesPerSecond;
  }

  /** Waits until {@code bytes} may be read, and books their time. */
  void acquire(long bytes) throws InterruptedException {
    long now = nanoTime.getAsLong();
    // Compared as a difference: nanoTime may wrap.
    long start = !started || nextStart - now < 0 ? now : nextStart;
    started = true;
    nextStart = start + (long) (bytes * 1e9 / bytesPerSecond);
    if (start - now > 0) {
      sleeper.sleep(start - now);
    }
  }
}
