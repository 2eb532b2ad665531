package io.cistern.testing;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Assumptions;

/**
 * A real, small file system for a test that needs a full disk: a tmpfs of a given size mounted on
 * a directory. Mounting needs root; a test run without it (or where the kernel refuses the mount,
 * as in an unprivileged container) is skipped, not failed. Close unmounts it. (proxy-store's
 * cache tests have the same helper: the modules share no test code.)
 */
public final class TmpfsMount implements AutoCloseable {

  private final Path directory;

  private TmpfsMount(Path directory) {
    this.directory = directory;
  }

  /** Mounts a tmpfs of {@code bytes} on {@code directory} (created if missing), or skips the test. */
  public static TmpfsMount mount(Path directory, long bytes) throws IOException, InterruptedException {
    Assumptions.assumeTrue(Integer.valueOf(0).equals(Files.getAttribute(Path.of("/proc/self"), "unix:uid")),
        "mounting a tmpfs needs root");
    Files.createDirectories(directory);
    String output = run("mount", "-t", "tmpfs", "-o", "size=" + bytes, "cistern-test", directory.toString());
    Assumptions.assumeTrue(output == null, () -> "cannot mount a tmpfs here: " + output);
    return new TmpfsMount(directory);
  }

  /** Writes zeros to {@code file} until the file system is full; returns how many bytes fitted. */
  public static long fill(Path file) throws IOException {
    byte[] block = new byte[4096];
    long written = 0;
    try (var out = Files.newOutputStream(file)) {
      while (true) {
        out.write(block);
        written += block.length;
      }
    } catch (IOException full) {
      if (!String.valueOf(full.getMessage()).contains("No space left")) {
        throw full;
      }
      return written;
    }
  }

  @Override
  public void close() throws IOException, InterruptedException {
    String output = run("umount", directory.toString());
    if (output != null) {
      // Something still holds a file there (a thread of a failed test): detach it now, freed when released.
      String lazy = run("umount", "-l", directory.toString());
      if (lazy != null) {
        throw new IOException("cannot unmount " + directory + ": " + output + " / " + lazy);
      }
    }
  }

  /** Runs a command; null when it succeeded, else what it printed. */
  private static String run(String... command) throws IOException, InterruptedException {
    Process process = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    return process.waitFor() == 0 ? null : output.isBlank() ? "exit " + process.exitValue() : output.trim();
  }
}
