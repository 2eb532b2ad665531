package io.cistern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Map;

/**
 * A private containerd daemon and its {@code ctr} client, as a Kubernetes node pulls: every state
 * directory and socket under one temp directory, the CRI and the snapshotters needing kernel
 * features turned off, images unpacked with the {@code native} snapshotter (plain copies, no
 * mounts), so nothing system-wide is touched. containerd needs root: {@link #unavailable()} says
 * why it cannot run, for a test to skip with.
 */
public final class Containerd implements AutoCloseable {

  private static final String NAMESPACE = "cistern-test";

  private final Path directory;
  private final Path socket;
  private final DaemonProcess daemon;

  private Containerd(Path directory, Path socket, DaemonProcess daemon) {
    this.directory = directory;
    this.socket = socket;
    this.daemon = daemon;
  }

  /** Why containerd cannot run here, or empty when it can. */
  public static Optional<String> unavailable() {
    return DaemonProcess.unavailable("containerd", "ctr");
  }

  /** Starts containerd with everything in {@code directory} (keep it short: a socket path has at most 107 bytes). */
  public static Containerd start(Path directory) throws IOException {
    Files.createDirectories(directory);
    Path socket = directory.resolve("containerd.sock");
    Path config = Files.writeString(directory.resolve("config.toml"), """
        version = 2
        root = "%1$s/root"
        state = "%1$s/state"
        disabled_plugins = ["io.containerd.grpc.v1.cri", "io.containerd.snapshotter.v1.btrfs",
          "io.containerd.snapshotter.v1.zfs", "io.containerd.snapshotter.v1.devmapper",
          "io.containerd.snapshotter.v1.aufs"]
        [grpc]
          address = "%2$s"
        [ttrpc]
          address = "%2$s.ttrpc"
        [debug]
          address = ""
        [metrics]
          address = ""
        [plugins."io.containerd.internal.v1.opt"]
          path = "%1$s/opt"
        """.formatted(directory, socket));
    DaemonProcess daemon = DaemonProcess.start("containerd successfully booted", Map.of(),
        Tools.require("containerd").toString(), "--config", config.toString());
    return new Containerd(directory, socket, daemon);
  }

  /**
   * {@code ctr images pull --hosts-dir HOSTS REFERENCE} for linux/amd64, unpacked.
   *
   * @param hostsDirectory holds {@code <registry>/hosts.toml}, as {@code /etc/containerd/certs.d} does
   */
  public DaemonProcess.Result pull(String reference, Path hostsDirectory) {
    return ctr("images", "pull", "--hosts-dir", hostsDirectory.toString(), "--platform", "linux/amd64",
        "--snapshotter", "native", reference);
  }

  /** The digest of the image containerd knows as {@code reference}, or empty. */
  public Optional<String> imageDigest(String reference) {
    for (String line : ctr("images", "ls").orFail().output().split("\n")) {
      String[] columns = line.trim().split("\\s+");
      if (columns.length >= 3 && columns[0].equals(reference)) {
        return Optional.of(columns[2]);
      }
    }
    return Optional.empty();
  }

  /**
   * Removes every image with its content and snapshots, so the next pull is cold again (a snapshot
   * left for a layer would make the unpacker skip that layer's fetch).
   */
  public void removeAllImages() {
    List<String> command = new ArrayList<>(List.of("images", "rm", "--sync"));
    for (String line : ctr("images", "ls", "-q").orFail().output().split("\n")) {
      if (!line.isBlank()) {
        command.add(line.trim());
      }
    }
    if (command.size() > 3) {
      ctr(command.toArray(String[]::new)).orFail();
    }
  }

  /** Writes {@code <registry>/hosts.toml}: the mirror, then {@code server}, tried only when the mirror fails. */
  public static void writeHostsToml(Path hostsDirectory, String registry, String mirror, String server) throws IOException {
    Files.writeString(Files.createDirectories(hostsDirectory.resolve(registry)).resolve("hosts.toml"), """
        server = "%s"

        [host."%s"]
          capabilities = ["pull", "resolve"]
        """.formatted(server, mirror));
  }

  private DaemonProcess.Result ctr(String... args) {
    List<String> command = new ArrayList<>(List.of(Tools.require("ctr").toString(), "--address", socket.toString(),
        "--namespace", NAMESPACE));
    command.addAll(List.of(args));
    return DaemonProcess.run(command, Map.of(), directory.resolve("ctr-tmp"), 180);
  }

  @Override
  public void close() {
    daemon.close();
  }
}
