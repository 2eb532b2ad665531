package io.cistern.testing;

import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Runs Debian's {@code chromium} headless, with a fresh profile in a temp dir and every
 * background service (updates, sync, QUIC) off, so it reaches nothing but the page it is given.
 * Pages are given virtual time to run their scripts: timers and fetches complete before the DOM
 * is dumped, with no wall-clock wait in the test.
 */
public final class Chromium {

  private static final String VIRTUAL_TIME_BUDGET_MILLIS = "10000";

  private final Path home;

  public Chromium(Path home) throws IOException {
    this.home = Files.createDirectories(home);
  }

  /** The DOM after the page's scripts ran, as HTML. */
  public String dumpDom(URI page) {
    return run("dom", List.of("--dump-dom", page.toString()));
  }

  /** Renders the page into a PNG at {@code file}. */
  public void screenshot(URI page, Path file) {
    run("screenshot", List.of("--window-size=1280,1000", "--screenshot=" + file.toAbsolutePath(), page.toString()));
  }

  private String run(String name, List<String> arguments) {
    List<String> command = new ArrayList<>(List.of(Tools.require("chromium").toString(),
        "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--user-data-dir=" + home.resolve("profile-" + name + "-" + System.nanoTime()),
        "--virtual-time-budget=" + VIRTUAL_TIME_BUDGET_MILLIS));
    command.addAll(arguments);
    ProcessBuilder builder = new ProcessBuilder(command)
        .redirectError(home.resolve(name + ".stderr").toFile());
    builder.environment().put("HOME", home.toString());
    try {
      Process process = builder.start();
      byte[] output = process.getInputStream().readAllBytes();
      if (!process.waitFor(2, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new AssertionError("chromium did not finish");
      }
      if (process.exitValue() != 0) {
        throw new AssertionError("chromium failed (" + process.exitValue() + "): "
            + Files.readString(home.resolve(name + ".stderr")));
      }
      return new String(output, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new AssertionError("cannot run chromium", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }
}
