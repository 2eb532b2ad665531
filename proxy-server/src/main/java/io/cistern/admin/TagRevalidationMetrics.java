package io.cistern.admin;

import io.cistern.proxy.TagRevalidationObserver;
import io.cistern.upstream.TagRevalidation;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * {@code cistern_tag_revalidations_total} by upstream, mode ({@code background}, {@code blocking})
 * and outcome ({@code unchanged}, {@code moved}, {@code gone}, {@code failed}): every revalidation
 * of a cached tag past its TTL, counted once however many requests it answered, as it ends.
 */
public final class TagRevalidationMetrics implements TagRevalidationObserver {

  private final MeterRegistry registry;

  public TagRevalidationMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  @Override
  public void revalidated(String upstream, TagRevalidation mode, Outcome outcome) {
    Counter.builder("cistern.tag.revalidations")
        .description("Revalidations of cached tags past their TTL with their upstream, by how they ran and ended")
        .tag("upstream", upstream)
        .tag("mode", mode.label())
        .tag("outcome", outcome.label())
        .register(registry)
        .increment();
  }
}
