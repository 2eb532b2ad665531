package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CisternProcess;
import io.cistern.testing.LoopbackConfig;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;

/**
 * sqlite-jdbc extracts its native library on every start and deletes it only on a clean exit: a
 * Cistern killed with SIGKILL and started again, twice, must not leave a copy per start, neither
 * in the temp directory the JVM was given nor anywhere in the cache directory.
 */
@Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class SqliteNativeLibraryCopiesTest {

  @TempDir
  Path temp;

  @Test
  void killedRunsLeaveNoCopyOfTheNativeLibraryBehind() throws Exception {
    Path jvmTemp = Files.createDirectories(temp.resolve("jvm-tmp"));
    Path cache = temp.resolve("cache");
    Path config = LoopbackConfig.write(temp.resolve("cistern.yml"), cache, "http://127.0.0.1:1");
    List<String> tmpdir = List.of("-Djava.io.tmpdir=" + jvmTemp);

    for (int run = 1; run <= 2; run++) {
      CisternProcess cistern = CisternProcess.start(config, tmpdir);
      assertEquals(1, libraries(jvmTemp, cache).size(), "run " + run + " loaded one copy: " + copies(jvmTemp, cache));
      cistern.kill();
    }
    try (CisternProcess third = CisternProcess.start(config, tmpdir)) {
      // Each killed run left its copy and its .lck; the third start loaded a copy of its own.
      List<Path> copies = copies(jvmTemp, cache);
      assertEquals(1, libraries(jvmTemp, cache).size(), "only the running copy is left: " + copies);
      assertTrue(copies.size() <= 2, "the running copy and at most its .lck: " + copies);
    }
    assertEquals(List.of(), copies(jvmTemp, cache), "a clean stop deletes the running copy too");
  }

  private static List<Path> libraries(Path jvmTemp, Path cache) throws IOException {
    return copies(jvmTemp, cache).stream().filter(file -> !file.getFileName().toString().endsWith(".lck")).toList();
  }

  /** sqlite-jdbc's extracted files ({@code sqlite-<version>-<uuid>-libsqlitejdbc.so} and its {@code .lck}). */
  private static List<Path> copies(Path jvmTemp, Path cache) throws IOException {
    List<Path> found = new ArrayList<>();
    for (Path root : List.of(jvmTemp, cache)) {
      try (Stream<Path> files = Files.walk(root)) {
        files.filter(file -> file.getFileName().toString().contains("libsqlitejdbc")).forEach(found::add);
      }
    }
    return found;
  }
}
