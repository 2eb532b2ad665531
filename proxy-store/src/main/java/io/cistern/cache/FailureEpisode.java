package io.cistern.cache;

import java.util.concurrent.atomic.AtomicBoolean;

/**
 * A failure that repeats while its cause lasts (a full disk fails every write), so that it is
 * logged once when it begins and once when it ends, not once per write. Thread-safe: of many
 * threads failing at once, exactly one is told the episode began.
 */
final class FailureEpisode {

  private final AtomicBoolean failing = new AtomicBoolean();

  /** Notes a failure; true only for the first one of an episode. */
  boolean failed() {
    return failing.compareAndSet(false, true);
  }

  /** Notes a success; true only for the first one after an episode. */
  boolean succeeded() {
    return failing.get() && failing.compareAndSet(true, false);
  }
}
