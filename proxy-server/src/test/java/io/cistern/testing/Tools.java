package io.cistern.testing;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Optional;

/** The real programs integration tests drive; the test command installs them (scripts/test.sh). */
public final class Tools {

  private Tools() {}

  /** The absolute path of {@code program} on PATH; fails the test clearly when it is missing. */
  public static Path require(String program) {
    return find(program).orElseThrow(
        () -> new IllegalStateException(program + " is not installed: run the tests with scripts/test.sh, which installs it"));
  }

  /** The absolute path of {@code program} on PATH (and in /usr/sbin, where dockerd is), or empty. */
  public static Optional<Path> find(String program) {
    String path = System.getenv().getOrDefault("PATH", "/usr/bin:/bin") + ":/usr/sbin:/sbin";
    for (String directory : path.split(":")) {
      Path candidate = Path.of(directory, program);
      if (Files.isExecutable(candidate)) {
        return Optional.of(candidate);
      }
    }
    return Optional.empty();
  }
}
