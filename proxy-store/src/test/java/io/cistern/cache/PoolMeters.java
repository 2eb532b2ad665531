package io.cistern.cache;

import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import io.micrometer.core.instrument.simple.SimpleMeterRegistry;

/** The metadata pools' own metrics (Hikari's), as a test reads them: how often a pool lent a connection, or timed out. */
final class PoolMeters {

  private final SimpleMeterRegistry registry = new SimpleMeterRegistry();

  /** What {@link MetadataDatabase#open} reports to. */
  MetricsTrackerFactory tracker() {
    return new MicrometerMetricsTrackerFactory(registry);
  }

  /** Connections {@code pool} lent out. */
  long borrows(String pool) {
    return registry.get("hikaricp.connections.acquire").tag("pool", pool).timer().count();
  }

  /** Borrowers of {@code pool} that waited longer than the connection timeout and were refused. */
  long timeouts(String pool) {
    return (long) registry.get("hikaricp.connections.timeout").tag("pool", pool).counter().count();
  }

  /** The most connections {@code pool} may lend at once. */
  long maximum(String pool) {
    return (long) registry.get("hikaricp.connections.max").tag("pool", pool).gauge().value();
  }
}
