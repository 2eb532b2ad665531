package io.cistern.admin;

import io.cistern.ops.RateLimitView;
import io.cistern.upstream.RateLimit;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The pull quota each upstream last reported ({@link RateLimit}: Docker Hub's
 * {@code ratelimit-limit} and {@code ratelimit-remaining} headers), as gauges
 * {@code cistern_upstream_ratelimit_limit}, {@code cistern_upstream_ratelimit_remaining} and
 * {@code cistern_upstream_ratelimit_window_seconds} by upstream, and as the list {@code /api/stats}
 * shows. An upstream's gauges appear with its first report: one that reports nothing (most
 * registries) has no series rather than a misleading 0. A WARN is logged when the remainder falls
 * below a tenth of the limit, once per crossing: again only after a report above that share.
 */
public final class UpstreamRateLimits {

  private static final Logger log = LoggerFactory.getLogger(UpstreamRateLimits.class);

  private final MeterRegistry registry;
  /**
   * The latest report per upstream. Answers arrive on many threads at once: each swaps its report
   * in and looks at the one it replaced, so of the reports that cross the line together exactly
   * one sees a previous one above it and warns; no lock.
   */
  private final Map<String, AtomicReference<RateLimit>> latest = new ConcurrentHashMap<>();

  public UpstreamRateLimits(MeterRegistry registry) {
    this.registry = registry;
  }

  /** Takes {@code upstream}'s newest report. Called on the HTTP client's threads: quick, no I/O. */
  public void reported(String upstream, RateLimit rateLimit) {
    AtomicReference<RateLimit> known = latest.get(upstream);
    if (known == null) {
      AtomicReference<RateLimit> first = new AtomicReference<>(rateLimit);
      known = latest.putIfAbsent(upstream, first);
      if (known == null) {
        register(upstream, first);
        warnIfCrossed(upstream, null, rateLimit);
        return;
      }
    }
    warnIfCrossed(upstream, known.getAndSet(rateLimit), rateLimit);
  }

  private static void warnIfCrossed(String upstream, RateLimit previous, RateLimit rateLimit) {
    if (rateLimit.low() && (previous == null || !previous.low())) {
      log.warn("upstream {} has {} of {} requests left in its rate-limit window{}: below 10 %; "
              + "when none are left, pulls that miss the cache are refused (429) until the window moves on",
          upstream, rateLimit.remaining(), rateLimit.limit(),
          rateLimit.window() == null ? "" : " of " + rateLimit.window().toSeconds() + " s");
    }
  }

  /** Every upstream's latest report, by upstream name. */
  public List<RateLimitView> view() {
    return latest.entrySet().stream()
        .map(entry -> {
          RateLimit rateLimit = entry.getValue().get();
          return new RateLimitView(entry.getKey(), rateLimit.limit(), rateLimit.remaining(),
              rateLimit.window() == null ? null : rateLimit.window().toSeconds(), rateLimit.low());
        })
        .sorted(Comparator.comparing(RateLimitView::upstream))
        .toList();
  }

  private void register(String upstream, AtomicReference<RateLimit> report) {
    Gauge.builder("cistern.upstream.ratelimit.limit", report, r -> r.get().limit())
        .description("Requests the upstream allows per rate-limit window, as it last reported (ratelimit-limit)")
        .tag("upstream", upstream).strongReference(true).register(registry);
    Gauge.builder("cistern.upstream.ratelimit.remaining", report, r -> r.get().remaining())
        .description("Requests left in the upstream's current rate-limit window, as it last reported (ratelimit-remaining)")
        .tag("upstream", upstream).strongReference(true).register(registry);
    Gauge.builder("cistern.upstream.ratelimit.window", report, r -> windowSeconds(r.get()))
        .baseUnit("seconds")
        .description("The length of the upstream's rate-limit window; NaN when it names none")
        .tag("upstream", upstream).strongReference(true).register(registry);
  }

  private static double windowSeconds(RateLimit rateLimit) {
    return rateLimit.window() == null ? Double.NaN : rateLimit.window().toSeconds();
  }
}
