package io.cistern.testing;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A real CNCF Distribution registry (Debian's {@code docker-registry}) on 127.0.0.1 with a port
 * the kernel picks, storage in a temp directory, and an optional {@code auth:} section. Its access
 * log (stdout) is kept so tests can see what reached it.
 */
public final class DistributionRegistry implements AutoCloseable {

  private static final Pattern LISTENING = Pattern.compile("listening on 127\\.0\\.0\\.1:(\\d+)");
  private static final Pattern ACCESS = Pattern.compile("\"([A-Z]+) (\\S+) HTTP/[0-9.]+\" (\\d{3})");

  /** One line of the access log. */
  public record Request(String method, String path, int status) {}

  private final Path directory;
  private final String authSection;
  private final String tlsSection;
  private final List<Request> accessLog = new CopyOnWriteArrayList<>();
  private Process process;
  private int port;

  private DistributionRegistry(Path directory, String authSection, String tlsSection) {
    this.directory = directory;
    this.authSection = authSection;
    this.tlsSection = tlsSection;
  }

  /** Starts an anonymous registry storing into {@code directory}. */
  public static DistributionRegistry start(Path directory) throws IOException {
    return start(directory, "");
  }

  /** Starts a registry with {@code authSection} (YAML under {@code auth:}, indented two spaces). */
  public static DistributionRegistry start(Path directory, String authSection) throws IOException {
    DistributionRegistry registry = new DistributionRegistry(directory, authSection, "");
    registry.startProcess(0);
    return registry;
  }

  /** Starts an anonymous registry serving HTTPS with {@code certificate} and its {@code key} (PEM files). */
  public static DistributionRegistry startTls(Path directory, Path certificate, Path key) throws IOException {
    String tls = "  tls:\n    certificate: %s\n    key: %s\n".formatted(certificate, key);
    DistributionRegistry registry = new DistributionRegistry(directory, "", tls);
    registry.startProcess(0);
    return registry;
  }

  private void startProcess(int wantedPort) throws IOException {
    Files.createDirectories(directory);
    Path config = directory.resolve("config.yml");
    Files.writeString(config, """
        version: 0.1
        log:
          level: info
          accesslog:
            disabled: false
        storage:
          filesystem:
            rootdirectory: %s
          delete:
            enabled: true
        http:
          addr: 127.0.0.1:%d
        %s
        %s
        """.formatted(directory.resolve("storage"), wantedPort, tlsSection.stripTrailing(),
            authSection.isEmpty() ? "" : "auth:\n" + authSection));
    process = new ProcessBuilder(Tools.require("docker-registry").toString(), "serve", config.toString())
        .directory(directory.toFile())
        .start();
    CompletableFuture<Integer> listening = new CompletableFuture<>();
    Thread stderr = new Thread(() -> readLines(process, true, line -> {
      Matcher matcher = LISTENING.matcher(line);
      if (matcher.find()) {
        listening.complete(Integer.parseInt(matcher.group(1)));
      }
    }), "registry-stderr");
    Thread stdout = new Thread(() -> readLines(process, false, line -> {
      Matcher matcher = ACCESS.matcher(line);
      if (matcher.find()) {
        accessLog.add(new Request(matcher.group(1), matcher.group(2), Integer.parseInt(matcher.group(3))));
      }
    }), "registry-stdout");
    stderr.setDaemon(true);
    stdout.setDaemon(true);
    stderr.start();
    stdout.start();
    process.onExit().thenRun(() -> listening.completeExceptionally(new IllegalStateException("docker-registry exited")));
    try {
      port = listening.get(30, TimeUnit.SECONDS);
    } catch (Exception e) {
      process.destroyForcibly();
      throw new IOException("docker-registry did not start", e);
    }
  }

  private static void readLines(Process process, boolean errorStream, java.util.function.Consumer<String> consumer) {
    try (BufferedReader reader = new BufferedReader(new InputStreamReader(
        errorStream ? process.getErrorStream() : process.getInputStream(), StandardCharsets.UTF_8))) {
      String line;
      while ((line = reader.readLine()) != null) {
        consumer.accept(line);
      }
    } catch (IOException ignored) {
      // The process ended.
    }
  }

  public int port() {
    return port;
  }

  /** The registry's base URL, {@code http://127.0.0.1:PORT} ({@code https} when it serves TLS). */
  public URI url() {
    return URI.create((tlsSection.isEmpty() ? "http" : "https") + "://127.0.0.1:" + port);
  }

  /** {@code 127.0.0.1:PORT}, as skopeo names it. */
  public String hostPort() {
    return "127.0.0.1:" + port;
  }

  /** What has reached the registry so far (lines appear once each request has finished). */
  public List<Request> accessLog() {
    return List.copyOf(accessLog);
  }

  /** Stops the registry (its storage stays). */
  public void stop() {
    if (process != null && process.isAlive()) {
      process.destroy();
      try {
        process.waitFor(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      process.destroyForcibly();
    }
  }

  /** Starts the stopped registry again on the same port and storage. */
  public void restart() throws IOException {
    stop();
    startProcess(port);
  }

  @Override
  public void close() {
    stop();
  }
}
