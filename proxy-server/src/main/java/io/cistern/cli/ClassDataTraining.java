package io.cistern.cli;

import io.cistern.Cistern;
import io.cistern.Settings;
import io.cistern.admin.LogLevels;
import io.cistern.config.ConfigLoader;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;

/**
 * The training run of Cistern's class-data-sharing archive (see {@code scripts/cds-archive.sh}):
 * run under {@code -XX:DumpLoadedClassList}, it starts a Cistern as {@code cistern serve} does,
 * with the embedded defaults but on loopback ports of the system's choosing and a cache in a
 * temporary directory, asks what a client and the orchestrator ask first ({@code /v2/},
 * {@code /healthz}, {@code /readyz}), and stops. The archive is then made of the classes it
 * loaded, so the next start maps them instead of loading them. What the run itself needs beyond
 * that (its client, its clean-up) is archived too and mapped into every process, so both are
 * written with classes a start loads anyway where that is easy: no streams, no file walks.
 *
 * <p>It stops short of pulls on purpose: every archived class is resident in every process, used
 * or not, and an archive trained on a pull too measured +9.5 MiB at idle to save the first pull
 * after a start 0.2 s (README, "class-data archive").
 */
public final class ClassDataTraining {

  private ClassDataTraining() {}

  public static void main(String[] args) throws Exception {
    Main.setDefaults();
    Path directory = Files.createTempDirectory("cistern-training");
    try {
      Map<String, String> environment = Map.of(
          "CISTERN_SERVER_ADDRESS", "127.0.0.1", "CISTERN_SERVER_PORT", "0",
          "CISTERN_ADMIN_ADDRESS", "127.0.0.1", "CISTERN_ADMIN_PORT", "0",
          "CISTERN_CACHE_DIRECTORY", directory.resolve("cache").toString());
      Settings settings = Settings.of(new ConfigLoader().load(null, environment));
      LogLevels.apply(settings.config().log().level(), settings.config().log().access().level());
      try (Cistern cistern = Cistern.start(settings, Clock.systemUTC(), environment)) {
        get(cistern.address(), "/v2/");
        get(cistern.adminAddress(), "/healthz");
        get(cistern.adminAddress(), "/readyz");
      }
    } finally {
      delete(directory.toFile());
    }
  }

  private static void delete(File file) {
    File[] children = file.listFiles();
    if (children != null) {
      for (File child : children) {
        delete(child);
      }
    }
    file.delete();
  }

  /** One HTTP/1.1 request on a socket of its own: a client of the JDK's would archive its classes too. */
  private static void get(InetSocketAddress address, String path) {
    try (Socket socket = new Socket(address.getAddress(), address.getPort())) {
      OutputStream out = socket.getOutputStream();
      out.write(("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      String response = new String(in.readAllBytes(), StandardCharsets.ISO_8859_1);
      String status = response.substring(0, Math.max(0, response.indexOf('\r')));
      if (!status.startsWith("HTTP/1.1 200")) {
        throw new IllegalStateException(path + " answered '" + status + "'");
      }
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
