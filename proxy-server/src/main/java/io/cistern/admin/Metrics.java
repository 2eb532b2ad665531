package io.cistern.admin;

import io.micrometer.core.instrument.binder.jvm.ClassLoaderMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.netty4.NettyAllocatorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;

/**
 * The metrics registry of one Cistern, in Prometheus' text format, with the JVM's meters (memory,
 * GC, threads, class loading, CPU, uptime) and the memory of Netty's buffer allocator bound to it.
 * Cistern's own meters are added by {@link RequestMetrics}, {@link UpstreamMetrics} and
 * {@link CacheMetrics}.
 *
 * <p>The JVM's and Netty's meters are bound on the first scrape of {@code /metrics}, not at the
 * start: they read the JVM through {@code java.lang.management} and JMX, about 230 classes and
 * some 4 MiB of an idle Cistern's memory that a Cistern nobody scrapes never needs. Their counters
 * (GC pauses, bytes allocated and promoted) therefore count from that first scrape; the gauges
 * (memory, threads, classes, CPU, uptime) read the JVM's own totals and are whole from the start.
 */
public final class Metrics implements AutoCloseable {

  private static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  /** Null until the first scrape binds the JVM's meters; guarded by this. */
  private JvmGcMetrics gc;
  /** Guarded by this: a scrape after {@link #close} binds nothing. */
  private boolean closed;

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** The {@code /metrics} endpoint. */
  public AdminEndpoint endpoint() {
    return request -> CompletableFuture.completedFuture(
        new AdminResponse(200, CONTENT_TYPE, scrape().getBytes(StandardCharsets.UTF_8)));
  }

  /** Every meter in Prometheus' text format, the JVM's included. */
  public String scrape() {
    bindJvmMeters();
    return registry.scrape();
  }

  // Synchronized: scrapes may come from several admin connections at once, and each must find the
  // JVM's meters bound before it reads the registry; after the first, the lock is uncontended.
  private synchronized void bindJvmMeters() {
    if (gc != null || closed) {
      return;
    }
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc = new JvmGcMetrics();
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider allocator) {
      new NettyAllocatorMetrics(allocator).bindTo(registry);
    }
  }

  /** Stops the GC listeners (they are registered JVM-wide), if a scrape bound them, and the registry. */
  @Override
  public synchronized void close() {
    closed = true;
    if (gc != null) {
      gc.close();
    }
    registry.close();
  }
}
