package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.util.ArrayDeque;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.Test;

/** The job pool refuses work beyond its cap instead of queueing it without end. */
class JobsTest {

  /** Runs queued work only when the test says so. */
  private static final class StepExecutor implements Executor {
    final Queue<Runnable> queued = new ArrayDeque<>();

    @Override
    public void execute(Runnable task) {
      queued.add(task);
    }
  }

  private static final Outcome NOTHING = new Outcome(List.of(), 0, 0, 0, List.of());

  @Test
  void jobsBeyondTheCapAreRefusedWith429UntilOneFinishes() {
    StepExecutor executor = new StepExecutor();
    Jobs jobs = new Jobs(executor);
    for (int i = 0; i < Jobs.MAX_UNFINISHED; i++) {
      jobs.start("warm", progress -> NOTHING);
    }
    OperationException refused = assertThrows(OperationException.class, () -> jobs.start("warm", progress -> NOTHING));
    assertEquals(429, refused.status());
    assertEquals(Jobs.MAX_UNFINISHED, executor.queued.size(), "the refused job was not queued");

    executor.queued.poll().run();
    long id = jobs.start("warm", progress -> NOTHING);
    assertEquals(Jobs.RUNNING, jobs.view(id).orElseThrow().state(), "a finished job gave its place back");
    assertEquals(429, assertThrows(OperationException.class, () -> jobs.start("warm", progress -> NOTHING)).status());

    executor.queued.poll().run();
    jobs.start("import", progress -> {
      throw new OperationException(400, "a failed job");
    });
    executor.queued.forEach(Runnable::run);
    executor.queued.clear();
    jobs.start("export", progress -> NOTHING);
    assertEquals(1, executor.queued.size(), "failed jobs gave their places back too");
  }
}
