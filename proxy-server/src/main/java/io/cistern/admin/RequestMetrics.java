package io.cistern.admin;

import io.cistern.cache.FillSource;
import io.cistern.http.RequestListener;
import io.cistern.http.ServedRequest;
import io.cistern.ops.TrafficView;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.FunctionCounter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.EnumMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Function;
import java.util.function.LongSupplier;

/**
 * Meters of the registry port, fed by every answered request:
 * <ul>
 *   <li>{@code cistern_requests_seconds} (count, sum, histogram buckets) by route, method, status;
 *   <li>{@code cistern_cache_hits_total} and {@code cistern_cache_misses_total} by kind
 *       ({@code manifest}, {@code blob}; GETs and manifest HEADs);
 *   <li>{@code cistern_served_bytes_total} by source: {@code cache} for hits (the local disk); for
 *       misses, which stream from the fill under way, where that fill's bytes come from:
 *       {@code bucket}, {@code member} (another member of the cluster) or {@code upstream} (manifests,
 *       and blobs this member downloads itself);
 *   <li>{@code cistern_access_log_dropped_total}: access log lines dropped because its writer fell behind.
 * </ul>
 * Labels take a few fixed values each (methods other than GET and HEAD count as {@code other}),
 * so no client can grow the number of series.
 */
public final class RequestMetrics implements RequestListener {

  /** Latency buckets: from a cached manifest in memory to a multi-gigabyte layer. */
  private static final Duration[] BUCKETS = {
      Duration.ofMillis(1), Duration.ofMillis(5), Duration.ofMillis(25), Duration.ofMillis(100),
      Duration.ofMillis(250), Duration.ofSeconds(1), Duration.ofSeconds(5), Duration.ofSeconds(30),
      Duration.ofMinutes(2), Duration.ofMinutes(10)};

  private final MeterRegistry registry;
  /**
   * The timers met so far, by their labels: looking one up in the registry builds its id and
   * sorts its tags, a cost every request would pay. The labels take few values (see above).
   */
  private final Map<TimerKey, Timer> timers = new ConcurrentHashMap<>();
  /** Made once: a method reference written at the call would be a new object per request. */
  private final Function<TimerKey, Timer> newTimer = this::timer;
  private final Map<String, Counter> hits;
  private final Map<String, Counter> misses;
  private final Counter fromCache;
  /**
   * The misses' bytes by where their fill got them: filled in the constructor and only read after,
   * which the final field makes safe on any thread.
   */
  private final Map<FillSource, Counter> filledFrom = new EnumMap<>(FillSource.class);

  public RequestMetrics(MeterRegistry registry) {
    this.registry = registry;
    this.hits = Map.of("manifest", hits("manifest"), "blob", hits("blob"));
    this.misses = Map.of("manifest", misses("manifest"), "blob", misses("blob"));
    this.fromCache = served("cache");
    for (FillSource source : FillSource.values()) {
      filledFrom.put(source, served(source.label()));
    }
  }

  @Override
  public void served(ServedRequest request) {
    timers.computeIfAbsent(new TimerKey(request.route(), methodLabel(request.method()), request.status()), newTimer)
        .record(request.duration());
    if (request.cache() == ServedRequest.Cache.NONE) {
      return;
    }
    boolean hit = request.cache() == ServedRequest.Cache.HIT;
    Counter outcome = (hit ? hits : misses).get(request.route());
    if (outcome != null) {
      outcome.increment();
    }
    (hit ? fromCache : filledFrom(request.source())).increment(request.bytes());
  }

  private Counter filledFrom(FillSource source) {
    return filledFrom.get(source == null ? FillSource.UPSTREAM : source);
  }

  /** Counts, as {@code cistern_access_log_dropped_total}, the access log lines {@code dropped} reads. */
  public void countAccessLogDrops(LongSupplier dropped) {
    FunctionCounter.builder("cistern.access.log.dropped", dropped, LongSupplier::getAsLong)
        .description("Access log lines dropped because the log's writer could not keep up")
        .register(registry);
  }

  /** What clients were served since start, for the status page and {@code cistern stats}. */
  public TrafficView traffic() {
    long hitCount = (long) (hits.get("manifest").count() + hits.get("blob").count());
    long missCount = (long) (misses.get("manifest").count() + misses.get("blob").count());
    double filled = filledFrom.values().stream().mapToDouble(Counter::count).sum();
    return new TrafficView(hitCount, missCount, (long) fromCache.count(), (long) filled);
  }

  private record TimerKey(String route, String method, int status) {}

  private Timer timer(TimerKey key) {
    return Timer.builder("cistern.requests")
        .description("Requests of the registry port, by route, method and status")
        .tag("route", key.route())
        .tag("method", key.method())
        .tag("status", Integer.toString(key.status()))
        .serviceLevelObjectives(BUCKETS)
        .register(registry);
  }

  private static String methodLabel(String method) {
    return method.equals("GET") || method.equals("HEAD") ? method : "other";
  }

  private Counter hits(String kind) {
    return Counter.builder("cistern.cache.hits").description("Manifests and blobs answered from the cache")
        .tag("kind", kind).register(registry);
  }

  private Counter misses(String kind) {
    return Counter.builder("cistern.cache.misses").description("Manifests and blobs that needed the upstream")
        .tag("kind", kind).register(registry);
  }

  private Counter served(String source) {
    return Counter.builder("cistern.served").baseUnit("bytes")
        .description("Manifest and blob bytes sent to clients, by where they came from")
        .tag("source", source).register(registry);
  }
}
