package io.cistern.cache;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The directory sqlite-jdbc extracts its native library into ({@link #PROPERTY}).
 *
 * <p>sqlite-jdbc (3.54.1.0) writes a copy named {@code sqlite-<version>-<uuid>-libsqlitejdbc.so}
 * and a {@code .lck} beside it on the first connection of a JVM, and deletes both only when the
 * JVM exits normally. When it loads, it deletes older copies whose {@code .lck} is gone, but a
 * {@code kill -9} leaves the {@code .lck} too, so each such run left a 1 MiB copy for good.
 */
public final class SqliteNativeLibrary {

  /** The system property sqlite-jdbc reads; unset, it uses {@code java.io.tmpdir}. */
  public static final String PROPERTY = "org.sqlite.tmpdir";

  private static final Logger log = LoggerFactory.getLogger(SqliteNativeLibrary.class);
  private static final String COPY_PREFIX = "sqlite-";

  private SqliteNativeLibrary() {}

  /**
   * Creates {@code directory} and deletes the copies (and {@code .lck} files) that runs before this
   * JVM left in it. A copy written since this JVM started is kept: it is this JVM's own, or one
   * another starting process has yet to load (deleting a loaded copy would be harmless, as the
   * mapping keeps it, but one not loaded yet would fail that start).
   *
   * @return {@code directory}
   */
  public static Path clearStaleCopies(Path directory) throws IOException {
    Files.createDirectories(directory);
    FileTime started = FileTime.fromMillis(ManagementFactory.getRuntimeMXBean().getStartTime());
    int deleted = 0;
    try (DirectoryStream<Path> files = Files.newDirectoryStream(directory, COPY_PREFIX + "*")) {
      for (Path file : files) {
        try {
          if (Files.isRegularFile(file) && Files.getLastModifiedTime(file).compareTo(started) < 0 && Files.deleteIfExists(file)) {
            deleted++;
          }
        } catch (IOException e) {
          // A leftover is not worth failing a start over; the next start tries again.
          log.warn("cannot delete {}: {}", file, e.toString());
        }
      }
    }
    if (deleted > 0) {
      log.info("deleted {} files of SQLite's native library left in {} by earlier runs", deleted, directory);
    }
    return directory;
  }
}
