package io.cistern.cache;

import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.Executor;

/**
 * An executor that runs nothing until told: handed to the cache as its durability executor, it
 * holds verified downloads between their verification and their storage for as long as a test
 * needs to look at that window.
 */
final class HeldExecutor implements Executor {

  private final Queue<Runnable> held = new ConcurrentLinkedQueue<>();

  @Override
  public void execute(Runnable task) {
    held.add(task);
  }

  /** How many tasks are waiting. */
  int waiting() {
    return held.size();
  }

  /** Runs every waiting task on the caller's thread, in the order they came. */
  void runAll() {
    Runnable next;
    while ((next = held.poll()) != null) {
      next.run();
    }
  }

  /** Forgets the waiting tasks, as a process killed before they ran would. */
  void dropAll() {
    held.clear();
  }
}
