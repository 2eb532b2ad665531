package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;

/** The waits of a download's retries: doubling from the base, jittered, never near zero, capped. */
class BackoffTest {

  private static final Duration BASE = Duration.ofMillis(200);

  @Test
  void eachWaitLiesBetweenHalfAndAllOfTheDoubledBaseUpToThirtyTwoTimesIt() {
    Backoff backoff = new Backoff(BASE);
    for (int failures = 0; failures < 12; failures++) {
      Duration full = BASE.multipliedBy(1L << Math.min(failures, 5));
      for (int draw = 0; draw < 200; draw++) {
        Duration wait = backoff.delay(failures);
        assertTrue(wait.compareTo(full.dividedBy(2)) >= 0 && wait.compareTo(full) <= 0,
            "wait " + failures + " was " + wait + ", outside " + full.dividedBy(2) + ".." + full);
      }
    }
  }

  @Test
  void waitsAreSpreadSoDownloadsCutTogetherDoNotRetryTogether() {
    Backoff backoff = new Backoff(BASE);
    Duration least = Duration.ofDays(1);
    Duration most = Duration.ZERO;
    for (int draw = 0; draw < 1000; draw++) {
      Duration wait = backoff.delay(5);
      least = wait.compareTo(least) < 0 ? wait : least;
      most = wait.compareTo(most) > 0 ? wait : most;
    }
    assertTrue(most.minus(least).compareTo(Duration.ofSeconds(2)) > 0, "1000 waits spread over " + least + ".." + most);
  }
}
