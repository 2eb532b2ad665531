package io.cistern.upstream;

import java.net.URI;
import java.time.Duration;

/**
 * Told about every HTTP exchange a {@link RegistryClient} has with its upstream (challenges,
 * redirects and retries included), so the server can count them without proxy-core knowing how
 * they are counted. Called on the HTTP client's threads: implementations must be quick and
 * thread-safe.
 */
public interface UpstreamObserver {

  /** Observes nothing. */
  UpstreamObserver NONE = new UpstreamObserver() {
    @Override
    public void responded(String upstream, URI url, int status) {}

    @Override
    public void failed(String upstream, URI url, Throwable cause) {}

    @Override
    public void retrying(String upstream, RetryCause cause, Duration wait) {}

    @Override
    public void rangeRelayed(String upstream) {}
  };

  /**
   * {@code upstream} answered with {@code status} (for a body, once the body has been read) at
   * {@code url}, the one of its configured urls the request went to (or was redirected from).
   */
  void responded(String upstream, URI url, int status);

  /** The exchange at {@code url} ended without a complete answer: refused, timed out, or cut mid-body. */
  void failed(String upstream, URI url, Throwable cause);

  /**
   * A request to {@code upstream} failed for {@code cause} and will be tried again after
   * {@code wait}: by the client itself, or by a blob download resuming. Told once per retry.
   */
  void retrying(String upstream, RetryCause cause, Duration wait);

  /**
   * An answer from {@code upstream} reported its pull quota ({@link RateLimit#from}); told after
   * {@link #responded}, for every answer that carries one. Nothing by default.
   */
  default void rateLimitReported(String upstream, RateLimit rateLimit) {}

  /**
   * A ranged GET went to {@code upstream} for a client's {@code Range} beyond what the blob's
   * download had written (a lazy pull). Told once per such GET, apart from the blob's own
   * download, so that the full GETs per blob can still be counted.
   */
  void rangeRelayed(String upstream);
}
