package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Json;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class ReadinessTest {

  @TempDir
  Path temp;

  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final CountDownLatch never = new CountDownLatch(1);

  @AfterEach
  void stop() {
    never.countDown();
    executor.shutdownNow();
  }

  @Test
  void everyCheckIsReportedByNameAndOneFailureMakesItUnready() {
    Map<String, Readiness.Check> checks = new LinkedHashMap<>();
    checks.put("first", () -> { });
    checks.put("second", () -> {
      throw new IOException("disk on fire");
    });
    Readiness.Report report = new Readiness(checks, executor, Duration.ofSeconds(10)).evaluate().join();
    assertFalse(report.ready());
    assertEquals(List.of("first", "second"), List.copyOf(report.checks().keySet()), "reported in order");
    assertEquals("ok", report.checks().get("first"));
    assertEquals("IOException: disk on fire", report.checks().get("second"));
  }

  @Test
  void aCheckThatHangsIsReportedAsFailingInsteadOfHangingTheProbe() {
    Map<String, Readiness.Check> checks = Map.of("hung", never::await);
    Readiness.Report report = new Readiness(checks, executor, Duration.ofMillis(100)).evaluate().join();
    assertFalse(report.ready());
    assertEquals("no answer within 100 ms", report.checks().get("hung"));
  }

  @Test
  void onceAStopHasBegunItIsUnreadyWhateverTheChecksSay() {
    Readiness readiness = new Readiness(Map.of("fine", () -> { }), executor, Duration.ofSeconds(10));
    assertTrue(readiness.evaluate().join().ready());
    readiness.stopping();
    Readiness.Report report = readiness.evaluate().join();
    assertFalse(report.ready());
    assertTrue(report.stopping());
    assertEquals("ok", report.checks().get("fine"));
  }

  @Test
  void theReportIsWrittenAsTheObjectMapperWritesItWhateverItsMessagesHold() {
    Map<String, String> checks = new LinkedHashMap<>();
    checks.put("metadata", "ok");
    checks.put("cacheWritable", "IOException: \"/var/cache\\x\" is\nread-only\u0001 \u00e9\u2028");
    Readiness.Report report = new Readiness.Report(false, true, checks, Map.of("bucket", "unreachable"));
    assertEquals(new String(Json.bytes(report), StandardCharsets.UTF_8), new String(report.json(), StandardCharsets.UTF_8));
    Readiness.Report fine = new Readiness.Report(true, false, Map.of(), Map.of());
    assertEquals("{\"ready\":true,\"stopping\":false,\"checks\":{},\"degraded\":{}}", new String(fine.json(), StandardCharsets.UTF_8));
  }

  @Test
  void theWriteProbeLeavesNothingBehindAndFailsWhereThereIsNoDirectory() throws Exception {
    Readiness.probeWrite(temp);
    try (var left = Files.list(temp)) {
      assertEquals(0, left.count());
    }
    Path notADirectory = Files.writeString(temp.resolve("file"), "x");
    assertThrows(IOException.class, () -> Readiness.probeWrite(notADirectory));
  }
}
