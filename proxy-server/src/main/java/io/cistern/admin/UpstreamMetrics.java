package io.cistern.admin;

import io.cistern.upstream.RateLimit;
import io.cistern.upstream.RetryCause;
import io.cistern.upstream.UpstreamObserver;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

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
  /**
   * The counters met so far, by their labels: looking one up in the registry builds its id and
   * sorts its tags, a cost every upstream exchange would pay. The labels take few values (the
   * configured upstreams and urls, the statuses upstreams answer), so the maps stay small;
   * computeIfAbsent makes concurrent first uses agree on one counter.
   */
  private final Map<Answer, Counter> answers = new ConcurrentHashMap<>();
  private final Map<Url, Counter> failures = new ConcurrentHashMap<>();
  private final Map<Retry, Counter> retries = new ConcurrentHashMap<>();
  private final Map<String, Counter> rangeRelays = new ConcurrentHashMap<>();

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
    answers.computeIfAbsent(new Answer(upstream, url.toString(), status),
        answer -> requests(answer.upstream(), answer.url(), Integer.toString(answer.status()))).increment();
  }

  @Override
  public void failed(String upstream, URI url, Throwable cause) {
    failures.computeIfAbsent(new Url(upstream, url.toString()), failed -> requests(failed.upstream(), failed.url(), "error"))
        .increment();
  }

  @Override
  public void retrying(String upstream, RetryCause cause, Duration wait) {
    retries.computeIfAbsent(new Retry(upstream, cause), this::retries).increment();
  }

  @Override
  public void rateLimitReported(String upstream, RateLimit rateLimit) {
    rateLimits.reported(upstream, rateLimit);
  }

  @Override
  public void rangeRelayed(String upstream) {
    rangeRelays.computeIfAbsent(upstream, this::rangeRelays).increment();
  }

  /** An upstream's answer with its status, at one of its urls. */
  private record Answer(String upstream, String url, int status) {}

  /** One of an upstream's urls, where an exchange failed. */
  private record Url(String upstream, String url) {}

  private record Retry(String upstream, RetryCause cause) {}

  private Counter requests(String upstream, String url, String status) {
    return Counter.builder("cistern.upstream.requests")
        .description("HTTP exchanges with upstream registries")
        .tag("upstream", upstream)
        .tag("url", url)
        .tag("status", status)
        .register(registry);
  }

  private Counter retries(Retry retry) {
    return Counter.builder("cistern.upstream.retries")
        .description("Requests and downloads retried after a failed attempt, counted as the wait begins")
        .tag("upstream", retry.upstream())
        .tag("cause", retry.cause().label())
        .register(registry);
  }

  private Counter rangeRelays(String upstream) {
    return Counter.builder("cistern.upstream.range.relays")
        .description("Ranged blob GETs relayed to clients whose range the blob's download had not reached")
        .tag("upstream", upstream)
        .register(registry);
  }
}
