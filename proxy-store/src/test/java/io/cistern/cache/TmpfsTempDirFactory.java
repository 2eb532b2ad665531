package io.cistern.cache;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.extension.AnnotatedElementContext;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.io.TempDirFactory;

/**
 * Temp directories in memory ({@code /dev/shm}) where the machine has it. Tests that publish
 * thousands of blobs are about concurrency, not durability; on a disk their two fsyncs per blob
 * would take most of the run.
 */
final class TmpfsTempDirFactory implements TempDirFactory {

  private static final Path SHM = Path.of("/dev/shm");

  @Override
  public Path createTempDirectory(AnnotatedElementContext element, ExtensionContext extension) throws IOException {
    if (Files.isDirectory(SHM) && Files.isWritable(SHM)) {
      return Files.createTempDirectory(SHM, "cistern-test-");
    }
    return Files.createTempDirectory("cistern-test-");
  }
}
