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
import java.util.concurrent.CompletableFuture;

/**
 * The metrics registry of one Cistern, in Prometheus' text format, with the JVM's meters (memory,
 * GC, threads, class loading, CPU, uptime) and the memory of Netty's buffer allocator bound to it.
 * Cistern's own meters are added by {@link RequestMetrics}, {@link UpstreamMetrics} and
 * {@link CacheMetrics}.
 */
public final class Metrics implements AutoCloseable {

  private static final String CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

  private final PrometheusMeterRegistry registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
  private final JvmGcMetrics gc = new JvmGcMetrics();

  public Metrics() {
    new ClassLoaderMetrics().bindTo(registry);
    new JvmMemoryMetrics().bindTo(registry);
    gc.bindTo(registry);
    new JvmThreadMetrics().bindTo(registry);
    new ProcessorMetrics().bindTo(registry);
    new UptimeMetrics().bindTo(registry);
    if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider allocator) {
      new NettyAllocatorMetrics(allocator).bindTo(registry);
    }
  }

  public PrometheusMeterRegistry registry() {
    return registry;
  }

  /** The {@code /metrics} endpoint. */
  public AdminEndpoint endpoint() {
    return request -> CompletableFuture.completedFuture(
        new AdminResponse(200, CONTENT_TYPE, registry.scrape().getBytes(java.nio.charset.StandardCharsets.UTF_8)));
  }

  /** Stops the GC listeners (they are registered JVM-wide) and the registry. */
  @Override
  public void close() {
    gc.close();
    registry.close();
  }
}
