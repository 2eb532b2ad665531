package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The scrub's pace, on a clock the test moves: sleeping advances it, nothing waits for real. */
class PacerTest {

  private static final long SECOND = 1_000_000_000L;

  private long now = 5 * SECOND;
  private final List<Long> sleeps = new ArrayList<>();
  private final Pacer pacer = new Pacer(1000, () -> now, nanos -> {
    sleeps.add(nanos);
    now += nanos;
  });

  @Test
  void readsAreSpacedSoThatNoMoreThanTheRateGoesBy() throws Exception {
    pacer.acquire(500);
    pacer.acquire(500);
    pacer.acquire(1000);
    pacer.acquire(1000);

    assertEquals(List.of(SECOND / 2, SECOND / 2, SECOND), sleeps, "the first read goes at once, each next after its predecessor's time");
    assertEquals(7 * SECOND, now, "the fourth read starts at 7 s: 3000 bytes in the 2 s before it");
  }

  @Test
  void timeLeftUnusedIsNotSavedUpForABurst() throws Exception {
    pacer.acquire(1000);
    now += 60 * SECOND;
    pacer.acquire(1000);
    pacer.acquire(1000);

    assertEquals(List.of(SECOND), sleeps, "after an idle minute one read goes at once, the next waits its second");
  }

  @Test
  void aPaceMustBePositive() {
    assertThrows(IllegalArgumentException.class, () -> new Pacer(0, () -> 0, nanos -> {}));
  }
}
