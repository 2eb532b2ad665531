package io.cistern.testing;

import java.nio.file.Files;
import java.nio.file.Path;

/** The real programs integration tests drive; the test command installs them (scripts/test.sh). */
public final class Tools {

  private Tools() {}

  /** The absolute path of {@code program} on PATH; fails the test clearly when it is missing. */
  public static Path require(String program) {
    for (String directory : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
      Path candidate = Path.of(directory, program);
      if (Files.isExecutable(candidate)) {
        return candidate;
      }
    }
    throw new IllegalStateException(program + " is not installed: run the tests with scripts/test.sh, which installs it");
  }
}
