package io.cistern.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Cistern as a separate process ({@code java -cp <test classpath> io.cistern.Main --config FILE}),
 * for tests that must kill it the way a crash would. The port it bound (configure port 0) is read
 * from its log.
 */
public final class CisternProcess implements AutoCloseable {

  private static final Pattern LISTENING = Pattern.compile("registry listening on /127\\.0\\.0\\.1:(\\d+)");

  private final Process process;
  private final List<String> output = new CopyOnWriteArrayList<>();
  private final int port;

  private CisternProcess(Path config, List<String> jvmOptions) throws IOException {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(jvmOptions);
    command.addAll(List.of("-cp", System.getProperty("java.class.path"), "io.cistern.Main", "--config", config.toString()));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    // Only the file configures this Cistern, whatever the test runner's environment holds.
    builder.environment().keySet().removeIf(name -> name.startsWith("CISTERN_"));
    process = builder.start();
    CompletableFuture<Integer> listening = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = lines.readLine()) != null) {
          output.add(line);
          Matcher matcher = LISTENING.matcher(line);
          if (matcher.find()) {
            listening.complete(Integer.parseInt(matcher.group(1)));
          }
        }
      } catch (IOException ignored) {
        // The process ended.
      }
      listening.completeExceptionally(new IllegalStateException("cistern exited before listening:\n" + String.join("\n", output)));
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
    return new CisternProcess(config, List.of());
  }

  /** Starts Cistern with {@code config} under these JVM options, and returns once it listens. */
  public static CisternProcess start(Path config, List<String> jvmOptions) throws IOException {
    return new CisternProcess(config, jvmOptions);
  }

  public int port() {
    return port;
  }

  /** {@code 127.0.0.1:PORT}, as skopeo names it. */
  public String hostPort() {
    return "127.0.0.1:" + port;
  }

  /** What the process logged so far. */
  public List<String> output() {
    return List.copyOf(output);
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
