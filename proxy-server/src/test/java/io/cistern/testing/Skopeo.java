package io.cistern.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * Runs the real skopeo with every state directory inside a temp dir (so nothing under /var or the
 * user's home is touched) and no policy file needed.
 */
public final class Skopeo {

  /** What a run printed and how it ended. */
  public record Result(int exitCode, String output) {
    public Result orFail() {
      if (exitCode != 0) {
        throw new AssertionError("skopeo failed (" + exitCode + "):\n" + output);
      }
      return this;
    }
  }

  private final Path home;

  public Skopeo(Path home) throws IOException {
    this.home = Files.createDirectories(home);
  }

  /** {@code skopeo --insecure-policy copy ARGS}, failing the test unless it succeeds. */
  public Result copy(String... args) {
    List<String> command = new ArrayList<>(List.of("--insecure-policy", "copy"));
    command.addAll(List.of(args));
    return run(command.toArray(String[]::new)).orFail();
  }

  /** Pushes an OCI layout's tag to {@code registry/repository:tag} over plain HTTP. */
  public void push(Path layout, String tag, String registryHostPort, String repository, boolean all) {
    List<String> args = new ArrayList<>(List.of("--dest-tls-verify=false"));
    if (all) {
      args.add("--all");
    }
    args.add("oci:" + layout + ":" + tag);
    args.add("docker://" + registryHostPort + "/" + repository + ":" + tag);
    copy(args.toArray(String[]::new));
  }

  public Result run(String... args) {
    List<String> command = new ArrayList<>();
    command.add(Tools.require("skopeo").toString());
    command.addAll(List.of(args));
    ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
    Map<String, String> environment = builder.environment();
    environment.put("HOME", home.toString());
    environment.put("XDG_DATA_HOME", home.resolve("data").toString());
    environment.put("XDG_CONFIG_HOME", home.resolve("config").toString());
    environment.put("XDG_RUNTIME_DIR", home.resolve("run").toString());
    environment.put("TMPDIR", home.resolve("tmp").toString());
    environment.remove("HTTPS_PROXY");
    environment.remove("HTTP_PROXY");
    try {
      for (String dir : List.of("data", "config", "run", "tmp")) {
        Files.createDirectories(home.resolve(dir));
      }
      Process process = builder.start();
      byte[] output = process.getInputStream().readAllBytes();
      if (!process.waitFor(5, TimeUnit.MINUTES)) {
        process.destroyForcibly();
        throw new AssertionError("skopeo did not finish");
      }
      return new Result(process.exitValue(), new String(output, StandardCharsets.UTF_8));
    } catch (IOException e) {
      throw new AssertionError("cannot run skopeo", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new AssertionError("interrupted", e);
    }
  }
}
