package io.cistern.ops;

import java.util.Iterator;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Function;

/**
 * Long operations (warm, export, import, verify) run in the background, each with its progress, so the
 * admin API can answer at once and be asked how far they are. At most {@value #MAX_UNFINISHED}
 * jobs may be running or waiting at once: more are refused (429) rather than queued without end.
 * The last {@value #KEPT} jobs are kept; older finished ones are forgotten.
 */
public final class Jobs {

  static final String RUNNING = "running";
  static final String DONE = "done";
  static final String FAILED = "failed";
  private static final int KEPT = 100;
  public static final int MAX_UNFINISHED = 16;

  private record Job(long id, String kind, Progress progress, CompletableFuture<Outcome> outcome) {}

  private final Executor executor;
  private final AtomicLong ids = new AtomicLong();
  // Taken before a job is queued and given back when it ends: the cap holds however many callers
  // start jobs at once, with no lock.
  private final AtomicInteger unfinished = new AtomicInteger();
  // Ordered by id, so trimming walks from the oldest; a concurrent map, because jobs are started
  // from admin requests and read by others at the same time.
  private final ConcurrentSkipListMap<Long, Job> jobs = new ConcurrentSkipListMap<>();

  /** @param executor where the operations run; its size bounds how many run at once */
  public Jobs(Executor executor) {
    this.executor = executor;
  }

  /**
   * Starts {@code work} in the background and returns its id at once.
   *
   * @throws OperationException 429 when {@value #MAX_UNFINISHED} jobs are running or waiting
   */
  public long start(String kind, Function<Progress, Outcome> work) {
    if (unfinished.incrementAndGet() > MAX_UNFINISHED) {
      unfinished.decrementAndGet();
      throw new OperationException(429, MAX_UNFINISHED + " jobs are running or waiting: start more when one is done");
    }
    Progress progress = new Progress();
    long id = ids.incrementAndGet();
    CompletableFuture<Outcome> outcome;
    try {
      outcome = CompletableFuture.supplyAsync(() -> work.apply(progress), executor);
    } catch (RuntimeException rejected) {
      unfinished.decrementAndGet();
      throw rejected;
    }
    outcome.whenComplete((done, failure) -> unfinished.decrementAndGet());
    jobs.put(id, new Job(id, kind, progress, outcome));
    trim();
    return id;
  }

  public Optional<JobView> view(long id) {
    return Optional.ofNullable(jobs.get(id)).map(Jobs::view);
  }

  private static JobView view(Job job) {
    CompletableFuture<Outcome> outcome = job.outcome();
    if (!outcome.isDone()) {
      return new JobView(job.id(), job.kind(), RUNNING, job.progress().snapshot(), null, null);
    }
    try {
      return new JobView(job.id(), job.kind(), DONE, job.progress().snapshot(), outcome.join(), null);
    } catch (CompletionException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      return new JobView(job.id(), job.kind(), FAILED, job.progress().snapshot(), null, messageOf(cause));
    }
  }

  static String messageOf(Throwable failure) {
    return failure.getMessage() != null ? failure.getMessage() : failure.getClass().getSimpleName();
  }

  private void trim() {
    Iterator<Map.Entry<Long, Job>> oldestFirst = jobs.entrySet().iterator();
    while (jobs.size() > KEPT && oldestFirst.hasNext()) {
      if (oldestFirst.next().getValue().outcome().isDone()) {
        oldestFirst.remove();
      }
    }
  }
}
