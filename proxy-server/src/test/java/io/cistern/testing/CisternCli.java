package io.cistern.testing;

import io.cistern.cli.Cli;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Runs {@code cistern} commands in this JVM with a configuration file of their own, as an operator
 * would on the machine of the cache: the same cache directory and admin listener as the server's.
 */
public final class CisternCli {

  /** What a command printed and how it ended. */
  public record Run(int exitCode, String out, String err) {
    public Run orFail() {
      if (exitCode != 0) {
        throw new AssertionError("cistern failed (" + exitCode + "):\n" + out + err);
      }
      return this;
    }
  }

  private final Path config;
  private final Map<String, String> environment;

  private CisternCli(Path config, Map<String, String> environment) {
    this.config = config;
    this.environment = environment;
  }

  /**
   * A CLI for the cache in {@code cacheDirectory}.
   *
   * @param adminPort where that cache's server listens for admin requests (when it runs)
   * @param moreYaml further top-level configuration (upstreams, offline)
   */
  public static CisternCli forCache(Path configFile, Path cacheDirectory, int adminPort, String moreYaml) throws IOException {
    Files.createDirectories(configFile.getParent());
    Files.writeString(configFile, """
        admin:
          address: 127.0.0.1
          port: %d
        cache:
          directory: %s
        %s
        """.formatted(adminPort, cacheDirectory, moreYaml));
    return new CisternCli(configFile, Map.of());
  }

  /** The same CLI with {@code environment} as its environment ({@code CISTERN_*} overrides). */
  public CisternCli withEnvironment(Map<String, String> environment) {
    return new CisternCli(config, Map.copyOf(environment));
  }

  public Run run(String... args) {
    return runWith(environment, args);
  }

  /** @param environment what the command sees as its environment; nothing of the real one */
  public Run runWith(Map<String, String> environment, String... args) {
    List<String> all = new ArrayList<>(List.of("--config", config.toString()));
    all.addAll(List.of(args));
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Cli.run(all.toArray(String[]::new), new PrintStream(out, true, StandardCharsets.UTF_8),
        new PrintStream(err, true, StandardCharsets.UTF_8), environment, Clock.systemUTC(), false);
    return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }
}
