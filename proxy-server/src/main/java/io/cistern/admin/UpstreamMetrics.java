package io.cistern.admin;

import io.cistern.upstream.RateLimit;
import io.cistern.upstream.RetryCause;
import io.cistern.upstream.UpstreamObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Duration;

/**
 * {@code cistern_upstream_requests_total} by upstream, url and status: every HTTP exchange with an
 * upstream, challenges, redirects and retries included; {@code url} is the configured url the
 * request went to (a redirect's target is counted under the url that redirected);
 * {@code status="error"} when no complete answer came (refused, timed out, cut mid-body).
 * {@code cistern_upstream_retries_total} by upstream and cause ({@link RetryCause#label}): every
 * retry decided, counted as its wait begins.
 * {@code cistern_upstream_range_relays_total} by upstream: the ranged GETs made for clients'
 * ranges beyond a download's progress, apart from the downloads' own GETs (which answer 200, or
 * 206 when a download resumes).
 * Rate limits the upstreams report go to {@link UpstreamRateLimits}.
 */
public final class UpstreamMetrics implements UpstreamObserver {

  private final MeterRegistry registry;
  private final UpstreamRateLimits rateLimits;

  public UpstreamMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.rateLimits = new UpstreamRateLimits(registry);
  }

  /** The rate limits the upstreams reported. */
  public UpstreamRateLimits rateLimits() {
    return rateLimits;
  }

  @Override
  public void responded(String upstream, URI url, int status) {
    count(upstream, url, Integer.toString(status));
  }

  @Override
  public void failed(String upstream, URI url, Throwable cause) {
    count(upstream, url, "error");
  }

  @Override
  public void retrying(String upstream, RetryCause cause, Duration wait) {
    Counter.builder("cistern.upstream.retries")
        .description("Requests and downloads retried after a failed attempt, counted as the wait begins")
        .tag("upstream", upstream)
        .tag("cause", cause.label())
        .register(registry)
        .increment();
  }

  @Override
  public void rateLimitReported(String upstream, RateLimit rateLimit) {
    rateLimits.reported(upstream, rateLimit);
  }

  @Override
  public void rangeRelayed(String upstream) {
    Counter.builder("cistern.upstream.range.relays")
        .description("Ranged blob GETs relayed to clients whose range the blob's download had not reached")
        .tag("upstream", upstream)
        .register(registry)
        .increment();
  }

  private void count(String upstream, URI url, String status) {
    Counter.builder("cistern.upstream.requests")
        .description("HTTP exchanges with upstream registries")
        .tag("upstream", upstream)
        .tag("url", url.toString())
        .tag("status", status)
        .register(registry)
        .increment();
  }
}
