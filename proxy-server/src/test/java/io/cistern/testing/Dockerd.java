package io.cistern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A private docker daemon with Cistern as its {@code registry-mirrors} entry: its own data, exec
 * and key paths and socket under one temp directory, the vfs storage driver (plain copies, no
 * mounts), no bridge and no iptables rules, and its own containerd namespace. (dockerd 20.10
 * still creates the empty directory {@code /run/docker/plugins}, a path fixed in its code.) Its registry
 * traffic other than to 127.0.0.1 goes to {@code proxy} (a {@link FallbackTrap}): dockerd falls
 * back from a failed mirror to {@code registry-1.docker.io}, which must then fail here and be seen,
 * rather than leave the machine. dockerd needs root: {@link #unavailable()} says why it cannot run.
 */
public final class Dockerd implements AutoCloseable {

  private final Path directory;
  private final Path socket;
  private final DaemonProcess daemon;

  private Dockerd(Path directory, Path socket, DaemonProcess daemon) {
    this.directory = directory;
    this.socket = socket;
    this.daemon = daemon;
  }

  /** Why dockerd cannot run here, or empty when it can. */
  public static Optional<String> unavailable() {
    return DaemonProcess.unavailable("dockerd", "docker", "containerd");
  }

  /**
   * Starts dockerd with everything in {@code directory} (keep it short: a socket path has at most 107 bytes).
   *
   * @param mirror {@code http://127.0.0.1:PORT}, the Docker Hub mirror
   * @param proxy {@code host:port} of the proxy for every other registry connection
   */
  public static Dockerd start(Path directory, String mirror, String proxy) throws IOException {
    Files.createDirectories(directory);
    Path socket = directory.resolve("docker.sock");
    Path config = Files.writeString(directory.resolve("daemon.json"), """
        {"registry-mirrors": ["%2$s"], "iptables": false, "ip6tables": false, "bridge": "none",
         "storage-driver": "vfs", "data-root": "%1$s/root", "exec-root": "%1$s/exec", "pidfile": "%1$s/docker.pid",
         "deprecated-key-path": "%1$s/key.json", "hosts": ["unix://%3$s"],
         "containerd-namespace": "cistern-test", "containerd-plugins-namespace": "cistern-test-plugins"}
        """.formatted(directory, mirror, socket));
    String proxyUrl = "http://" + proxy;
    DaemonProcess daemon = DaemonProcess.start("API listen on",
        Map.of("HTTPS_PROXY", proxyUrl, "HTTP_PROXY", proxyUrl, "NO_PROXY", "127.0.0.1"),
        Tools.require("dockerd").toString(), "--config-file", config.toString());
    return new Dockerd(directory, socket, daemon);
  }

  /** {@code docker pull REFERENCE}. */
  public DaemonProcess.Result pull(String reference) {
    return docker("pull", reference);
  }

  /** The repository digests ({@code name@sha256:…}) of a pulled image. */
  public List<String> repoDigests(String reference) {
    String output = docker("image", "inspect", "--format", "{{range .RepoDigests}}{{println .}}{{end}}", reference)
        .orFail().output();
    return output.lines().filter(line -> !line.isBlank()).map(String::trim).toList();
  }

  /** Removes every image, so the next pull is cold again. */
  public void removeAllImages() {
    List<String> command = new ArrayList<>(List.of("image", "rm", "--force"));
    docker("image", "ls", "--quiet", "--no-trunc").orFail().output().lines()
        .filter(line -> !line.isBlank()).distinct().forEach(command::add);
    if (command.size() > 3) {
      docker(command.toArray(String[]::new)).orFail();
    }
  }

  private DaemonProcess.Result docker(String... args) {
    List<String> command = new ArrayList<>(List.of(Tools.require("docker").toString()));
    command.addAll(List.of(args));
    return DaemonProcess.run(command,
        Map.of("DOCKER_HOST", "unix://" + socket, "DOCKER_CONFIG", directory.resolve("client").toString()),
        directory.resolve("client-tmp"), 180);
  }

  @Override
  public void close() {
    daemon.close();
  }
}
