package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.Scrape;
import org.junit.jupiter.api.Test;

/** The JVM's meters wait for the first scrape: an idle Cistern nobody scrapes never loads them. */
class MetricsTest {

  @Test
  void theFirstScrapeBindsTheJvmsAndNettysMetersAndLaterScrapesFindThemBound() {
    try (Metrics metrics = new Metrics()) {
      assertNull(metrics.registry().find("jvm.memory.used").meter(), "nothing of the JVM's before a scrape");

      Scrape first = Scrape.parse(metrics.scrape());
      for (String name : new String[] {"jvm_memory_used_bytes", "jvm_gc_memory_allocated_bytes_total",
          "jvm_threads_live_threads", "jvm_classes_loaded_classes", "system_cpu_count", "process_uptime_seconds",
          "netty_allocator_memory_used"}) {
        assertTrue(first.has(name), name + " in:\n" + first);
      }
      int bound = metrics.registry().getMeters().size();

      Scrape second = Scrape.parse(metrics.scrape());
      assertEquals(bound, metrics.registry().getMeters().size(), "bound once");
      assertTrue(second.has("jvm_memory_used_bytes"));
    }
  }

  @Test
  void aScrapeAfterCloseBindsNothing() {
    Metrics metrics = new Metrics();
    metrics.close();
    metrics.scrape();
    assertNull(metrics.registry().find("jvm.gc.memory.allocated").meter(),
        "no GC listener is registered JVM-wide after the close that would have removed it");
  }
}
