package io.cistern.cache;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class SqliteNativeLibraryTest {

  @TempDir
  Path temp;

  @Test
  void deletesOnlyCopiesWrittenBeforeThisJvmStarted() throws Exception {
    Path directory = temp.resolve("tmp");
    assertEquals(directory, SqliteNativeLibrary.clearStaleCopies(directory));
    assertTrue(Files.isDirectory(directory), "created");

    FileTime beforeThisJvm = FileTime.from(Instant.now().minus(30, ChronoUnit.DAYS));
    Path staleCopy = Files.createFile(directory.resolve("sqlite-3.54.1.0-aaaa-libsqlitejdbc.so"));
    Path staleLock = Files.createFile(directory.resolve("sqlite-3.54.1.0-aaaa-libsqlitejdbc.so.lck"));
    Path olderVersion = Files.createFile(directory.resolve("sqlite-3.46.1.0-bbbb-libsqlitejdbc.so"));
    Path notSqlites = Files.createFile(directory.resolve("other-file"));
    for (Path file : new Path[] {staleCopy, staleLock, olderVersion, notSqlites}) {
      Files.setLastModifiedTime(file, beforeThisJvm);
    }
    Path current = Files.createFile(directory.resolve("sqlite-3.54.1.0-cccc-libsqlitejdbc.so"));

    SqliteNativeLibrary.clearStaleCopies(directory);

    assertFalse(Files.exists(staleCopy));
    assertFalse(Files.exists(staleLock), "sqlite-jdbc itself never deletes a .lck");
    assertFalse(Files.exists(olderVersion), "a copy of another version is as stale");
    assertTrue(Files.exists(notSqlites), "only sqlite-jdbc's files are touched");
    assertTrue(Files.exists(current), "a copy written since this JVM started may be in use");
  }
}
