package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Supplier;
import org.junit.jupiter.api.Test;

/**
 * The two caps on one upstream's exchanges, driven by hand: an exchange is a future the test
 * completes (a blob's body ends when the test says so), and granted exchanges start on an
 * executor whose tasks the test runs. An exchange that has not started after every task ran is
 * waiting for a permit: nothing else could start it.
 */
class UpstreamLimitsTest {

  /** Runs nothing until told to, so that a test sees exactly which exchanges a permit started. */
  private final Queue<Runnable> tasks = new ArrayDeque<>();
  private final Executor executor = tasks::add;

  @Test
  void blobDownloadsHoldingEveryPermitKeepNoSmallRequestWaiting() {
    UpstreamLimits limits = new UpstreamLimits(1, 2, executor);
    Exchange first = Exchange.blob(limits);
    Exchange second = Exchange.blob(limits);
    Exchange third = Exchange.blob(limits);
    runTasks();
    assertTrue(first.started() && second.started(), "two downloads, two permits");
    assertFalse(third.started(), "a third download waits while both bodies stream");

    Exchange revalidation = Exchange.request(limits);
    runTasks();
    assertTrue(revalidation.started(), "a HEAD does not wait behind the downloads");
    revalidation.answer();
    assertTrue(revalidation.outcome().isDone());

    first.answer();
    runTasks();
    assertTrue(third.started(), "a finished body hands its permit to the waiting download");
  }

  @Test
  void smallRequestsHoldingEveryPermitKeepNoBlobDownloadWaiting() {
    UpstreamLimits limits = new UpstreamLimits(1, 1, executor);
    Exchange manifest = Exchange.request(limits);
    Exchange tagList = Exchange.request(limits);
    Exchange download = Exchange.blob(limits);
    runTasks();
    assertTrue(manifest.started());
    assertFalse(tagList.started(), "one small request at a time");
    assertTrue(download.started(), "a download has a permit of its own");
    manifest.answer();
    runTasks();
    assertTrue(tagList.started());
  }

  @Test
  void eachFinishedBodyStartsOneWaitingDownloadInTheOrderTheyCame() {
    UpstreamLimits limits = new UpstreamLimits(1, 1, executor);
    List<Exchange> downloads = new ArrayList<>();
    for (int i = 0; i < 4; i++) {
      downloads.add(Exchange.blob(limits));
    }
    for (int i = 0; i < downloads.size(); i++) {
      runTasks();
      for (int j = 0; j < downloads.size(); j++) {
        assertEquals(j <= i, downloads.get(j).started(), "download " + j + " after " + i + " finished bodies");
      }
      downloads.get(i).answer();
    }
  }

  @Test
  void aFailedDownloadHasGivenItsPermitBackBeforeItsCallerHearsOfIt() {
    UpstreamLimits limits = new UpstreamLimits(1, 1, executor);
    Exchange cut = Exchange.blob(limits);
    runTasks();
    AtomicBoolean retryGrantedAtOnce = new AtomicBoolean();
    cut.outcome().whenComplete((value, failure) -> {
      // As a download does when its body breaks: it asks again (here at once, really after a
      // backoff). Granted at once, its exchange is handed to the executor before this returns.
      int queued = tasks.size();
      limits.blobDownload(CompletableFuture::new);
      retryGrantedAtOnce.set(tasks.size() > queued);
    });
    cut.fail();
    assertTrue(retryGrantedAtOnce.get(), "the failed download's permit was free when its failure was reported");
  }

  @Test
  void anExchangeThatCannotBeStartedGivesItsPermitBack() {
    UpstreamLimits limits = new UpstreamLimits(1, 1, executor);
    CompletableFuture<Object> broken = limits.request(() -> {
      throw new IllegalStateException("no request could be built");
    });
    Exchange next = Exchange.request(limits);
    runTasks();
    assertTrue(broken.isCompletedExceptionally());
    assertTrue(next.started());
  }

  private void runTasks() {
    Runnable task;
    while ((task = tasks.poll()) != null) {
      task.run();
    }
  }

  /** One exchange under a cap: started once its permit was granted, answered when the test says. */
  private static final class Exchange {
    private final CompletableFuture<String> body = new CompletableFuture<>();
    private final AtomicBoolean started = new AtomicBoolean();
    private CompletableFuture<String> outcome;

    static Exchange blob(UpstreamLimits limits) {
      Exchange exchange = new Exchange();
      exchange.outcome = limits.blobDownload(exchange.start());
      return exchange;
    }

    static Exchange request(UpstreamLimits limits) {
      Exchange exchange = new Exchange();
      exchange.outcome = limits.request(exchange.start());
      return exchange;
    }

    private Supplier<CompletableFuture<String>> start() {
      return () -> {
        started.set(true);
        return body;
      };
    }

    boolean started() {
      return started.get();
    }

    CompletableFuture<String> outcome() {
      return outcome;
    }

    void answer() {
      body.complete("the last byte");
    }

    void fail() {
      body.completeExceptionally(new IOException("connection reset"));
    }
  }
}
