package io.cistern.admin;

import io.cistern.cache.BlobCache;
import io.cistern.cache.CacheStats;
import io.cistern.http.ActiveRequests;
import io.cistern.ops.Scrub;
import io.cistern.proxy.BlobService;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamUrls;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import java.net.URI;
import java.util.List;
import java.util.function.ToDoubleFunction;

/**
 * Meters read from Cistern's state at scrape time: the cache's size against its cap, eviction
 * counters, downloads and requests under way, token fetches per upstream and the url each upstream's
 * requests start at. Nothing is counted
 * twice: each reads the counter its component already keeps.
 */
public final class CacheMetrics {

  private CacheMetrics() {}

  public static void bind(MeterRegistry registry, BlobCache cache, BlobService blobs, ActiveRequests requests,
      List<Upstream> upstreams) {
    gauge(registry, "cistern.cache.size", "bytes", "Bytes of blobs and manifests stored", cache, s -> s.storedBytes());
    gauge(registry, "cistern.cache.reserved", "bytes", "Bytes claimed by downloads under way", cache, s -> s.reservedBytes());
    gauge(registry, "cistern.cache.max", "bytes", "The cache's byte cap", cache, s -> s.maxBytes());
    gauge(registry, "cistern.cache.entries", null, "Blobs and manifests stored", cache, s -> s.entries());
    counter(registry, "cistern.cache.eviction.passes", null, "Eviction passes run", cache, s -> s.evictionPasses());
    counter(registry, "cistern.cache.evicted.blobs", null, "Blobs and manifests evicted", cache, s -> s.evictedBlobs());
    counter(registry, "cistern.cache.evicted", "bytes", "Bytes evicted", cache, s -> s.evictedBytes());
    Gauge.builder("cistern.downloads.in.flight", blobs, BlobService::downloadsInFlight)
        .description("Blob downloads from upstreams under way").strongReference(true).register(registry);
    Gauge.builder("cistern.requests.active", requests, ActiveRequests::count)
        .description("Requests of the registry port being answered").strongReference(true).register(registry);
    for (Upstream upstream : upstreams) {
      FunctionCounter.builder("cistern.upstream.token.fetches", upstream, u -> u.client().tokens().fetchCount())
          .description("Bearer tokens fetched from the upstream's token service")
          .tag("upstream", upstream.host())
          .register(registry);
      UpstreamUrls urls = upstream.client().urls();
      for (URI url : urls.all()) {
        Gauge.builder("cistern.upstream.url.current", urls, u -> u.current().equals(url) ? 1 : 0)
            .description("1 for the url of the upstream that requests start at, 0 for its others")
            .tag("upstream", upstream.host())
            .tag("url", url.toString())
            .strongReference(true)
            .register(registry);
      }
    }
  }

  /**
   * What reads and the scrub found damaged, and what the scrub read; the scrub's meters stay at 0
   * while it is off ({@code scrub} null).
   */
  public static void bindIntegrity(MeterRegistry registry, BlobCache cache, Scrub scrub) {
    String corrupt = "Damaged blobs and manifests found and moved to quarantine";
    FunctionCounter.builder("cistern.cache.corrupt.blobs", cache, BlobCache::corruptBlobsFoundOnRead)
        .description(corrupt).tag("found_by", "read").register(registry);
    scrubCounter("cistern.cache.corrupt.blobs", corrupt, cache, scrub, Scrub::corruptBlobs)
        .tag("found_by", "scrub").register(registry);
    scrubCounter("cistern.cache.scrubbed", "Bytes of stored content the scrub read and hashed", cache, scrub,
        Scrub::scrubbedBytes).baseUnit("bytes").register(registry);
    scrubCounter("cistern.cache.scrubbed.blobs", "Blobs and manifests the scrub checked", cache, scrub,
        Scrub::scrubbedBlobs).register(registry);
  }

  /** A meter reads its object through a weak reference: the scrub when it runs, else the cache (for a 0). */
  private static FunctionCounter.Builder<?> scrubCounter(String name, String description,
      BlobCache cache, Scrub scrub, ToDoubleFunction<Scrub> value) {
    return (scrub != null ? FunctionCounter.builder(name, scrub, value) : FunctionCounter.builder(name, cache, c -> 0))
        .description(description);
  }

  private static void gauge(MeterRegistry registry, String name, String unit, String description, BlobCache cache,
      ToDoubleFunction<CacheStats> value) {
    Gauge.builder(name, cache, c -> value.applyAsDouble(c.stats()))
        .baseUnit(unit).description(description).strongReference(true).register(registry);
  }

  private static void counter(MeterRegistry registry, String name, String unit, String description, BlobCache cache,
      ToDoubleFunction<CacheStats> value) {
    FunctionCounter.builder(name, cache, c -> value.applyAsDouble(c.stats()))
        .baseUnit(unit).description(description).register(registry);
  }
}
