package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.cistern.ops.RateLimitView;
import io.cistern.upstream.RateLimit;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

/** Each upstream's latest report as gauges and a view, and one warning per fall below a tenth. */
class UpstreamRateLimitsTest {

  private static final Duration SIX_HOURS = Duration.ofHours(6);

  private final MeterRegistry registry = new SimpleMeterRegistry();
  private final UpstreamMetrics metrics = new UpstreamMetrics(registry);
  private final Logger logger = (Logger) LoggerFactory.getLogger(UpstreamRateLimits.class);
  private final ListAppender<ILoggingEvent> logs = new ListAppender<>();

  UpstreamRateLimitsTest() {
    logs.start();
    logger.addAppender(logs);
  }

  @AfterEach
  void detach() {
    logger.detachAppender(logs);
  }

  @Test
  void anUpstreamsGaugesAppearWithItsFirstReportAndFollowTheLatest() {
    assertNull(registry.find("cistern.upstream.ratelimit.remaining").gauge(), "no series before a report");
    metrics.rateLimitReported("docker.io", new RateLimit(100, 76, SIX_HOURS));
    metrics.rateLimitReported("ghcr.io", new RateLimit(5000, 4999, null));
    metrics.rateLimitReported("docker.io", new RateLimit(100, 75, SIX_HOURS));

    assertEquals(100, gauge("cistern.upstream.ratelimit.limit", "docker.io"));
    assertEquals(75, gauge("cistern.upstream.ratelimit.remaining", "docker.io"));
    assertEquals(21600, gauge("cistern.upstream.ratelimit.window", "docker.io"));
    assertEquals(4999, gauge("cistern.upstream.ratelimit.remaining", "ghcr.io"));
    assertTrue(Double.isNaN(gauge("cistern.upstream.ratelimit.window", "ghcr.io")), "no window named");
    assertEquals(List.of(new RateLimitView("docker.io", 100, 75, 21600L, false), new RateLimitView("ghcr.io", 5000, 4999, null, false)),
        metrics.rateLimits().view());
  }

  @Test
  void aFallBelowATenthWarnsOnceUntilTheRemainderRisesAgain() {
    metrics.rateLimitReported("docker.io", new RateLimit(100, 11, SIX_HOURS));
    metrics.rateLimitReported("docker.io", new RateLimit(100, 10, SIX_HOURS));
    assertEquals(List.of(), warnings(), "10 of 100 is not below a tenth");
    metrics.rateLimitReported("docker.io", new RateLimit(100, 9, SIX_HOURS));
    metrics.rateLimitReported("docker.io", new RateLimit(100, 8, SIX_HOURS));
    metrics.rateLimitReported("docker.io", new RateLimit(100, 0, SIX_HOURS));
    assertEquals(List.of("upstream docker.io has 9 of 100 requests left in its rate-limit window of 21600 s: below 10 %; "
        + "when none are left, pulls that miss the cache are refused (429) until the window moves on"), warnings());
    assertTrue(metrics.rateLimits().view().get(0).low());

    metrics.rateLimitReported("docker.io", new RateLimit(100, 100, SIX_HOURS));
    metrics.rateLimitReported("docker.io", new RateLimit(100, 3, SIX_HOURS));
    assertEquals(2, warnings().size(), "a new window, a new crossing");
  }

  @Test
  void aFirstReportAlreadyLowWarns() {
    metrics.rateLimitReported("docker.io", new RateLimit(200, 1, SIX_HOURS));
    assertEquals(1, warnings().size());
  }

  @Test
  void reportsCrossingTogetherOnManyThreadsWarnOnce() throws Exception {
    metrics.rateLimitReported("docker.io", new RateLimit(100, 50, SIX_HOURS));
    int threads = 8;
    ExecutorService pool = Executors.newFixedThreadPool(threads);
    try {
      CountDownLatch start = new CountDownLatch(1);
      List<Future<?>> reports = new java.util.ArrayList<>();
      for (int i = 0; i < threads; i++) {
        long remaining = i;
        reports.add(pool.submit(() -> {
          start.await();
          for (int n = 0; n < 1000; n++) {
            metrics.rateLimitReported("docker.io", new RateLimit(100, remaining, SIX_HOURS));
          }
          return null;
        }));
      }
      start.countDown();
      for (Future<?> report : reports) {
        report.get();
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, warnings().size(), "every report after 50 is below a tenth");
  }

  private double gauge(String name, String upstream) {
    return registry.get(name).tag("upstream", upstream).gauge().value();
  }

  private List<String> warnings() {
    return logs.list.stream().filter(event -> event.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
  }
}
