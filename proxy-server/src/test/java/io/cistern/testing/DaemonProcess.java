package io.cistern.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;

/**
 * A real client daemon (containerd, dockerd) a test starts and stops itself, and the commands run
 * against it: started with its output kept, ready when it logs the line it logs once it serves,
 * stopped with SIGTERM (then SIGKILL) when the test is done.
 */
public final class DaemonProcess implements AutoCloseable {

  /** What a command printed (stdout and stderr together) and how it ended. */
  public record Result(int exitCode, String output) {
    public Result orFail() {
      if (exitCode != 0) {
        throw new AssertionError("command failed (" + exitCode + "):\n" + output);
      }
      return this;
    }
  }

  private final Process process;
  private final List<String> output;

  private DaemonProcess(Process process, List<String> output) {
    this.process = process;
    this.output = output;
  }

  /**
   * Why these programs cannot run as daemons here, or empty when they can: they must be installed
   * (scripts/setup.sh --test installs them) and, as they manage mounts and namespaces, run as root.
   */
  public static Optional<String> unavailable(String... programs) {
    for (String program : programs) {
      if (Tools.find(program).isEmpty()) {
        return Optional.of(program + " is not installed (scripts/setup.sh --test installs it)");
      }
    }
    if (!isRoot()) {
      return Optional.of(programs[0] + " needs root; the tests run as " + System.getProperty("user.name"));
    }
    return Optional.empty();
  }

  private static boolean isRoot() {
    try {
      return Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid"));
    } catch (IOException | UnsupportedOperationException e) {
      return "root".equals(System.getProperty("user.name"));
    }
  }

  /**
   * Starts {@code command} and waits until it prints a line containing {@code readyLine}.
   *
   * @throws IOException when it exits or stays silent for a minute first, with what it printed
   */
  public static DaemonProcess start(String readyLine, Map<String, String> environment, String... command) throws IOException {
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    builder.environment().putAll(environment);
    Process process = builder.start();
    List<String> output = new CopyOnWriteArrayList<>();
    CompletableFuture<Void> ready = new CompletableFuture<>();
    Thread reader = new Thread(() -> {
      try (BufferedReader lines = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
        String line;
        while ((line = lines.readLine()) != null) {
          output.add(line);
          if (line.contains(readyLine)) {
            ready.complete(null);
          }
        }
      } catch (IOException ignored) {
        // The process ended.
      }
    }, command[0] + "-output");
    reader.setDaemon(true);
    reader.start();
    process.onExit().thenRun(() -> ready.completeExceptionally(new IllegalStateException(command[0] + " exited")));
    DaemonProcess daemon = new DaemonProcess(process, output);
    try {
      ready.get(60, TimeUnit.SECONDS);
    } catch (Exception e) {
      daemon.close();
      throw new IOException(command[0] + " did not start:\n" + String.join("\n", output), e);
    }
    return daemon;
  }

  /** Runs a client command to its end (at most {@code seconds}) with its temp files in {@code scratch}. */
  public static Result run(List<String> command, Map<String, String> environment, Path scratch, long seconds) {
    try {
      Files.createDirectories(scratch);
      Path log = Files.createTempFile(scratch, "output", ".log");
      ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile());
      builder.environment().put("TMPDIR", scratch.toString());
      builder.environment().putAll(environment);
      Process process = builder.start();
      if (!process.waitFor(seconds, TimeUnit.SECONDS)) {
        process.destroyForcibly();
        throw new AssertionError(String.join(" ", command) + " did not finish in " + seconds + " s:\n" + Files.readString(log));
      }
      return new Result(process.exitValue(), Files.readString(log));
    } catch (IOException e) {
      throw new AssertionError("cannot run " + command.get(0), e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }

  /** What the daemon has printed so far. */
  public String output() {
    return String.join("\n", output);
  }

  @Override
  public void close() {
    process.destroy();
    try {
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly().waitFor(10, TimeUnit.SECONDS);
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      process.destroyForcibly();
    }
  }
}
