package io.cistern.proxy;

import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Jittered exponential backoff for a download whose upstream cannot be reached: wait {@code n}
 * (from 0) is drawn uniformly between half and all of {@code base·2^n}, which stops doubling at
 * {@code 32·base}. The jitter spreads the downloads that one upstream restart cut
 * at the same moment, so they do not all come back at the same instant; the floor at half keeps
 * every wait well away from zero.
 */
record Backoff(Duration base) {

  private static final int DOUBLINGS = 5;

  /** The wait before retry {@code failures + 1} of one outage. */
  Duration delay(int failures) {
    long full = base.toNanos() << Math.min(failures, DOUBLINGS);
    long half = full / 2;
    return Duration.ofNanos(half + ThreadLocalRandom.current().nextLong(full - half + 1));
  }
}
