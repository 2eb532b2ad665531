package io.cistern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * podman with private configuration: its own {@code registries.conf} (the mirrors under test),
 * {@code storage.conf} (vfs, in a temp directory), {@code containers.conf} (no events, cgroupfs,
 * its own temp and network configuration directories) and a signature policy that accepts anything, with
 * {@code HOME} and the XDG directories in the same temp directory, so nothing system-wide is read
 * or written. Rootful podman needs root: {@link #unavailable()} says why it cannot run.
 */
public final class Podman {

  private final Path directory;

  private Podman(Path directory) {
    this.directory = directory;
  }

  /** Why podman cannot run here, or empty when it can. */
  public static Optional<String> unavailable() {
    return DaemonProcess.unavailable("podman");
  }

  /**
   * @param registries the {@code [[registry]]} tables of {@code registries.conf}, each registry's
   *     mirrors with it
   */
  public static Podman in(Path directory, String registries) throws IOException {
    for (String each : List.of("run", "root", "home", "xdg", "net")) {
      Files.createDirectories(directory.resolve(each));
    }
    Files.writeString(directory.resolve("registries.conf"), "unqualified-search-registries = []\n\n" + registries);
    Files.writeString(directory.resolve("storage.conf"), """
        [storage]
        driver = "vfs"
        runroot = "%1$s/run"
        graphroot = "%1$s/root"
        """.formatted(directory));
    Files.writeString(directory.resolve("containers.conf"), """
        [engine]
        events_logger = "none"
        cgroup_manager = "cgroupfs"
        tmp_dir = "%1$s/libpod"
        [network]
        network_config_dir = "%1$s/net"
        """.formatted(directory));
    Files.writeString(directory.resolve("policy.json"), "{\"default\": [{\"type\": \"insecureAcceptAnything\"}]}\n");
    return new Podman(directory);
  }

  /** {@code podman pull REFERENCE}. */
  public DaemonProcess.Result pull(String reference) {
    return podman("pull", "--signature-policy", directory.resolve("policy.json").toString(), reference);
  }

  /** The manifest digest of a pulled image. */
  public String digest(String reference) {
    return podman("image", "inspect", "--format", "{{.Digest}}", reference).orFail().output().trim();
  }

  /** Removes every image, so the next pull is cold again. */
  public void removeAllImages() {
    podman("rmi", "--all", "--force").orFail();
  }

  private DaemonProcess.Result podman(String... args) {
    List<String> command = new ArrayList<>(List.of(Tools.require("podman").toString(),
        "--root", directory.resolve("root").toString(), "--runroot", directory.resolve("run").toString(),
        "--storage-driver", "vfs"));
    command.addAll(List.of(args));
    return DaemonProcess.run(command, Map.of(
        "HOME", directory.resolve("home").toString(),
        "XDG_RUNTIME_DIR", directory.resolve("xdg").toString(),
        "XDG_CONFIG_HOME", directory.resolve("home/.config").toString(),
        "XDG_DATA_HOME", directory.resolve("home/.local").toString(),
        "CONTAINERS_REGISTRIES_CONF", directory.resolve("registries.conf").toString(),
        "CONTAINERS_STORAGE_CONF", directory.resolve("storage.conf").toString(),
        "CONTAINERS_CONF", directory.resolve("containers.conf").toString()), directory.resolve("tmp"), 180);
  }
}
