package io.cistern.admin;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.cistern.cache.CacheDirectory;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Supplier;

/**
 * Whether Cistern should take traffic ({@code /readyz}): each named check must pass, and a stop
 * must not have begun. Checks touch the disk and the database, so they run on an executor, each
 * with a timeout: a hung disk makes {@code /readyz} fail, it never hangs the probe.
 */
public final class Readiness {

  /** One condition for taking traffic; throws, with the reason as its message, when it does not hold. */
  @FunctionalInterface
  public interface Check {
    void verify() throws Exception;
  }

  /**
   * The outcome: {@code checks} maps each check's name to {@code "ok"} or why it failed.
   *
   * @param stopping a stop has begun, so traffic should go elsewhere whatever the checks say
   * @param degraded what works less well than it could without failing readiness (the shared
   *     bucket unreachable, members down), by name; empty when nothing is
   */
  public record Report(boolean ready, boolean stopping, Map<String, String> checks, Map<String, String> degraded) {

    /**
     * The report as a JSON object of these four fields, written by hand: orchestrators probe an
     * idle process every few seconds, and an object mapper would load some 500 classes for it,
     * each resident from then on.
     */
    public byte[] json() {
      StringBuilder json = new StringBuilder(160).append("{\"ready\":").append(ready)
          .append(",\"stopping\":").append(stopping).append(",\"checks\":");
      object(json, checks).append(",\"degraded\":");
      return object(json, degraded).append('}').toString().getBytes(StandardCharsets.UTF_8);
    }

    private static StringBuilder object(StringBuilder json, Map<String, String> fields) {
      json.append('{');
      for (Map.Entry<String, String> field : fields.entrySet()) {
        if (json.charAt(json.length() - 1) != '{') {
          json.append(',');
        }
        quoted(json, field.getKey()).append(':');
        quoted(json, field.getValue());
      }
      return json.append('}');
    }

    private static StringBuilder quoted(StringBuilder json, String text) {
      json.append('"');
      JsonStringEncoder.getInstance().quoteAsString(text, json);
      return json.append('"');
    }
  }

  private static final String OK = "ok";
  private static final String PROBE_FILE = "readyz.probe";

  private final Map<String, Check> checks;
  private final Map<String, Supplier<String>> conditions = new LinkedHashMap<>();
  private final Executor executor;
  private final Duration timeout;
  private volatile boolean stopping;

  /** @param checks by name, in the order they are reported */
  public Readiness(Map<String, Check> checks, Executor executor, Duration timeout) {
    this.checks = new LinkedHashMap<>(checks);
    this.executor = executor;
    this.timeout = timeout;
  }

  /**
   * What production checks: the metadata database answers, the cache directory takes a write, and
   * its file system has at least {@code minFreeBytes} free.
   */
  public static Map<String, Check> cacheChecks(CacheDirectory cache, long minFreeBytes) {
    Path directory = cache.path();
    Map<String, Check> checks = new LinkedHashMap<>();
    checks.put("metadata", cache::pingMetadata);
    checks.put("cacheWritable", () -> probeWrite(directory));
    checks.put("freeDisk", () -> {
      long free = Files.getFileStore(directory).getUsableSpace();
      if (free < minFreeBytes) {
        throw new IOException(free + " bytes free, below the minimum of " + minFreeBytes);
      }
    });
    return checks;
  }

  /** Writes, reads back and deletes a small file in {@code directory}. */
  static void probeWrite(Path directory) throws IOException {
    Path probe = directory.resolve(PROBE_FILE);
    byte[] content = "cistern readiness probe\n".getBytes(StandardCharsets.UTF_8);
    try {
      Files.write(probe, content);
      if (Files.size(probe) != content.length) {
        throw new IOException("the probe file in " + directory + " did not keep what was written");
      }
    } finally {
      Files.deleteIfExists(probe);
    }
  }

  /**
   * Adds a condition that is reported but never makes Cistern unready: a failing probe would make
   * an orchestrator drain every member at once for what each of them copes with (the shared
   * bucket unreachable). {@code condition} says what is degraded, or null while nothing is; it
   * reads state held in memory, never blocking. Called while Cistern is being built.
   */
  public Readiness degradedWhen(String name, Supplier<String> condition) {
    conditions.put(name, condition);
    return this;
  }

  /** From now on the report says not ready: a stop has begun. */
  public void stopping() {
    stopping = true;
  }

  public CompletableFuture<Report> evaluate() {
    List<String> names = new ArrayList<>(checks.keySet());
    List<CompletableFuture<String>> outcomes = new ArrayList<>();
    for (String name : names) {
      Check check = checks.get(name);
      outcomes.add(CompletableFuture.supplyAsync(() -> run(check), executor)
          .orTimeout(timeout.toMillis(), TimeUnit.MILLISECONDS)
          .exceptionally(failure -> failure instanceof TimeoutException
              ? "no answer within " + timeout.toMillis() + " ms"
              : String.valueOf(failure.getMessage())));
    }
    return CompletableFuture.allOf(outcomes.toArray(CompletableFuture[]::new)).thenApply(ignored -> {
      Map<String, String> results = new LinkedHashMap<>();
      boolean allOk = true;
      for (int i = 0; i < names.size(); i++) {
        String outcome = outcomes.get(i).join();
        results.put(names.get(i), outcome);
        allOk &= OK.equals(outcome);
      }
      boolean stop = stopping;
      Map<String, String> degraded = new LinkedHashMap<>();
      conditions.forEach((name, condition) -> {
        String now = condition.get();
        if (now != null) {
          degraded.put(name, now);
        }
      });
      return new Report(allOk && !stop, stop, results, degraded);
    });
  }

  private static String run(Check check) {
    try {
      check.verify();
      return OK;
    } catch (Exception e) {
      return e.getMessage() != null ? e.getClass().getSimpleName() + ": " + e.getMessage() : e.getClass().getSimpleName();
    }
  }

  /** The {@code /readyz} endpoint: 200 when ready, else 503; the body says which check failed. */
  public AdminEndpoint endpoint() {
    return request -> evaluate().thenApply(report -> new AdminResponse(report.ready() ? 200 : 503, "application/json", report.json()));
  }
}
