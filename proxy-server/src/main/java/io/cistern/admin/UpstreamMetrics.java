package io.cistern.admin;

import io.cistern.upstream.UpstreamObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * {@code cistern_upstream_requests_total} by upstream and status: every HTTP exchange with an
 * upstream, challenges, redirects and retries included; {@code status="error"} when no complete
 * answer came (refused, timed out, cut mid-body).
 */
public final class UpstreamMetrics implements UpstreamObserver {

  private final MeterRegistry registry;

  public UpstreamMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void responded(String upstream, int status) {
    count(upstream, Integer.toString(status));
  }

  @Override
  public void failed(String upstream, Throwable cause) {
    count(upstream, "error");
  }

  private void count(String upstream, String status) {
    Counter.builder("cistern.upstream.requests")
        .description("HTTP exchanges with upstream registries")
        .tag("upstream", upstream)
        .tag("status", status)
        .register(registry)
        .increment();
  }
}
