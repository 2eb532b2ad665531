package io.cistern.testing;

import io.cistern.cli.Main;
import java.io.BufferedReader;
import java.io.File;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cistern as a separate process ({@code java -cp <runtime class path> io.cistern.cli.Main --config FILE}),
 * for tests that must kill it the way a crash would, or run several. The ports it bound (configure
 * port 0) are read from its log. It runs on Cistern's own class path (its classes and its
 * runtime-scope dependencies, as the build wrote them to {@code target/runtime-classpath.txt}), not
 * the tests': nothing test-only (s3proxy and what it brings) is there to mask a missing class or
 * change a library's version. {@link #startJar} runs the shaded jar instead ({@code java -jar}),
 * for what only the jar can get wrong.
 */
public final class CisternProcess implements AutoCloseable {

  private static final Pattern LISTENING = Pattern.compile("registry listening on /127\\.0\\.0\\.1:(\\d+)");
  private static final Pattern ADMIN_LISTENING = Pattern.compile("admin listening on /127\\.0\\.0\\.1:(\\d+)");

  private final Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();
  /** Lines a test waits for: each completes with the first line (past or future) that matches. */
  private final Map<Pattern, CompletableFuture<String>> awaited = new ConcurrentHashMap<>();
  private final CompletableFuture<Integer> adminListening = new CompletableFuture<>();
  private final int port;

  /** {@code launch} names what the JVM runs ({@code -cp PATH MAIN} or {@code -jar JAR}). */
  private CisternProcess(List<String> jvmOptions, List<String> launch, Path config, Map<String, String> environment)
      throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.addAll(launch);
    command.addAll(List.of("--config", config.toString()));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    // Only the file (and what the test passes) configures this Cistern, whatever the test runner's environment holds.
    builder.environment().keySet().removeIf(name -> name.startsWith("CISTERN_"));
    builder.environment().putAll(environment);
    process = builder.start();
    CompletableFuture<Integer> listening = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = lines.readLine()) != null) {
          seen(line);
          Matcher matcher = LISTENING.matcher(line);
          if (matcher.find()) {
            listening.complete(Integer.parseInt(matcher.group(1)));
          }
          Matcher admin = ADMIN_LISTENING.matcher(line);
          if (admin.find()) {
            adminListening.complete(Integer.parseInt(admin.group(1)));
          }
        }
      } catch (IOException ignored) {
        // The process ended.
      }
      IllegalStateException exited = new IllegalStateException("cistern exited before listening:\n" + String.join("\n", output));
      listening.completeExceptionally(exited);
      adminListening.completeExceptionally(exited);
    }, "cistern-process-output");
    reader.setDaemon(true);
    reader.start();
    try {
      port = listening.get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      process.destroyForcibly();
      throw new IOException("cistern did not start", e);
    }
  }

  /** Starts Cistern with {@code config} and returns once it listens. */
  public static CisternProcess start(Path config) throws IOException {
    return start(config, List.of(), Map.of());
  }

  /** Starts Cistern with {@code config} under these JVM options, and returns once it listens. */
  public static CisternProcess start(Path config, List<String> jvmOptions) throws IOException {
    return start(config, jvmOptions, Map.of());
  }

  /**
   * Starts Cistern with {@code config} and these environment variables (a secret that the file
   * names by variable, say), and returns once it listens.
   */
  public static CisternProcess start(Path config, Map<String, String> environment) throws IOException {
    return start(config, List.of(), environment);
  }

  private static CisternProcess start(Path config, List<String> jvmOptions, Map<String, String> environment)
      throws IOException {
    return new CisternProcess(jvmOptions, List.of("-cp", runtimeClassPath(), "io.cistern.cli.Main"), config, environment);
  }

  /**
   * Starts {@code jar} ({@code java OPTIONS -jar JAR --config FILE}, as scripts/run.sh and the image
   * do) and returns once it listens: only its own classes and those the shade kept are there.
   */
  public static CisternProcess startJar(Path jar, Path config, List<String> jvmOptions) throws IOException {
    if (!Files.isRegularFile(jar)) {
      throw new IOException(jar + " is missing: the build shades it in the package phase");
    }
    return new CisternProcess(jvmOptions, List.of("-jar", jar.toString()), config, Map.of());
  }

  /** scripts/jvm-options, the JVM options scripts/run.sh and the image start Cistern with. */
  public static List<String> shippedJvmOptions() throws IOException {
    Path directory = Path.of("").toAbsolutePath();
    while (!Files.exists(directory.resolve("scripts/jvm-options"))) {
      directory = directory.getParent();
      if (directory == null) {
        throw new IOException("no scripts/jvm-options above " + Path.of("").toAbsolutePath());
      }
    }
    return List.of(Files.readString(directory.resolve("scripts/jvm-options")).strip().split("\\s+"));
  }

  public int port() {
    return port;
  }

  /** The admin listener's port (metrics, probes), once it listens: it starts just after the registry's. */
  public int adminPort() throws IOException {
    try {
      return adminListening.get(60, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    } catch (ExecutionException | TimeoutException e) {
      throw new IOException("cistern's admin listener did not start", e);
    }
  }

  /** Whether the process still runs. */
  public boolean isAlive() {
    return process.isAlive();
  }

  /** {@code 127.0.0.1:PORT}, as skopeo names it. */
  public String hostPort() {
    return "127.0.0.1:" + port;
  }

  private synchronized void seen(String line) {
    output.add(line);
    awaited.entrySet().removeIf(waiting -> waiting.getKey().matcher(line).find() && waiting.getValue().complete(line));
  }

  /**
   * Completes with the first line the process logged, or logs from now on, in which
   * {@code pattern} is found: a test waits for what Cistern says it did, not for a clock.
   */
  public synchronized CompletableFuture<String> line(Pattern pattern) {
    CompletableFuture<String> match = new CompletableFuture<>();
    output.stream().filter(line -> pattern.matcher(line).find()).findFirst().ifPresent(match::complete);
    if (!match.isDone()) {
      awaited.put(pattern, match);
    }
    return match;
  }

  /** What the process logged so far. */
  public List<String> output() {
    return List.copyOf(output);
  }

  /**
   * Cistern's classes (the directory this build compiled them to) and its runtime dependencies,
   * as listed by the build in {@code target/runtime-classpath.txt} beside them.
   */
  private static String runtimeClassPath() throws IOException {
    Path classes;
    try {
      classes = Path.of(Main.class.getProtectionDomain().getCodeSource().getLocation().toURI());
    } catch (URISyntaxException e) {
      throw new IOException(e);
    }
    Path listed = classes.resolveSibling("runtime-classpath.txt");
    if (!Files.isRegularFile(listed)) {
      throw new IOException(listed + " is missing: the build writes it (maven-dependency-plugin, generate-test-resources)");
    }
    return classes + File.pathSeparator + Files.readString(listed).strip();
  }

  /** Kills the process at once (SIGKILL): no shutdown hook, no clean-stop marker. */
  public void kill() throws InterruptedException {
    process.destroyForcibly();
    process.waitFor(30, TimeUnit.SECONDS);
  }

  /** Stops the process the polite way (SIGTERM), which lets Cistern close its cache cleanly. */
  @Override
  public void close() throws InterruptedException {
    if (process.isAlive()) {
      process.destroy();
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
      }
    }
  }
}
