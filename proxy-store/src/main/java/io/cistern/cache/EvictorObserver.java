package io.cistern.cache;

/**
 * Told what the evictor does, turn by turn, for those who must know when it has caught up with
 * the stores that poked it (tests and benchmarks wait on it instead of on a clock). Production
 * passes {@link #NONE}. Calls must return at once: {@link #poked} runs on the storing thread,
 * the others on the evictor's.
 */
interface EvictorObserver {

  EvictorObserver NONE = new EvictorObserver() {};

  /** A pass was asked for: the {@code poke}-th since start (counting from 1). */
  default void poked(long poke) {}

  /**
   * A turn ended that served every poke up to {@code served}: a poke made before the turn noted
   * that count is absorbed by this turn or an earlier one.
   *
   * @param failure why the turn failed, or null
   */
  default void turnEnded(long served, Throwable failure) {}

  /** The evictor's thread has exited: no turn follows. */
  default void stopped() {}
}
