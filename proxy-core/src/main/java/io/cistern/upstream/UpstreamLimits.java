package io.cistern.upstream;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Supplier;

/**
 * The caps on one upstream's exchanges in flight: one for small requests (manifests, tag lists,
 * referrers, HEADs), one for blob downloads. A blob's permit is held until the last byte of its
 * body, which is what bounds the downloads, and can take minutes; were both kinds under one cap,
 * slow layers could take every permit and a tag revalidation would wait behind them. Token
 * fetches and retry waits hold neither: a request waiting for one of them must not keep out the
 * requests that would end the wait.
 */
final class UpstreamLimits {

  private final RequestLimiter requests;
  private final RequestLimiter blobDownloads;
  private final Executor executor;

  /** @param executor runs each exchange once its permit is granted */
  UpstreamLimits(int maxConcurrentRequests, int maxConcurrentBlobDownloads, Executor executor) {
    this.requests = new RequestLimiter(maxConcurrentRequests);
    this.blobDownloads = new RequestLimiter(maxConcurrentBlobDownloads);
    this.executor = executor;
  }

  /** Runs a small exchange (its answer read whole) under the small requests' cap. */
  <T> CompletableFuture<T> request(Supplier<CompletableFuture<T>> exchange) {
    return limited(requests, exchange);
  }

  /** Runs a blob GET under the downloads' cap; the permit is held until its future, the body, completes. */
  <T> CompletableFuture<T> blobDownload(Supplier<CompletableFuture<T>> exchange) {
    return limited(blobDownloads, exchange);
  }

  private <T> CompletableFuture<T> limited(RequestLimiter limiter, Supplier<CompletableFuture<T>> exchange) {
    // Async: a permit handed over by a release must not run the next exchange on the releasing thread.
    return limiter.acquire().thenComposeAsync(permit -> {
      CompletableFuture<T> result;
      try {
        result = exchange.get();
      } catch (RuntimeException e) {
        result = CompletableFuture.failedFuture(e);
      }
      // Released before the caller hears the outcome: a download that fails and schedules its
      // retry has given its permit back already, so it holds none while it waits.
      return result.whenComplete((value, failure) -> limiter.release());
    }, executor);
  }
}
