package io.cistern.cache;

import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Clock;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.sqlite.SQLiteErrorCode;

/**
 * Opens the metadata database at start and tells whether it was lost: missing, empty (no schema),
 * or corrupt (not a SQLite file, or found damaged by SQLite on opening or by its quick check). A
 * corrupt database is moved aside with its write-ahead log, never deleted (the log names where it
 * went), and a new one is created in its place. So is the write-ahead log of a database that is
 * gone: it holds only the pages written since the last checkpoint, and SQLite would replay them
 * into the new file as a database full of holes. Rebuilding what was lost from the cache's files
 * is the cache's job ({@link Recovery#rebuild}).
 */
final class MetadataFile {

  private static final Logger log = LoggerFactory.getLogger(MetadataFile.class);
  private static final DateTimeFormatter STAMP = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'").withZone(ZoneOffset.UTC);
  private static final String[] COMPANIONS = {"-wal", "-shm"};

  /**
   * @param schema what creating or upgrading its schema found
   * @param loss how the database was lost ({@code missing}, {@code empty}, {@code corrupt …}), or
   *     null when it was found whole
   */
  record Opened(MetadataDatabase database, SchemaMigrations.Outcome schema, String loss) {}

  private MetadataFile() {}

  /**
   * @param checkIntegrity run SQLite's quick check (after an unclean stop, when recovery runs
   *     anyway; its cost is a read of the whole file)
   * @param poolMetrics see {@link MetadataDatabase#open}
   */
  static Opened open(Path file, int poolSize, MetricsTrackerFactory poolMetrics, boolean checkIntegrity, Clock clock) {
    boolean existed = Files.exists(file);
    if (!existed) {
      for (String companion : COMPANIONS) {
        moveAside(file.resolveSibling(file.getFileName() + companion), "orphaned", clock);
      }
    }
    String damage;
    try {
      MetadataDatabase database = MetadataDatabase.open(file, poolSize, poolMetrics);
      SchemaMigrations.Outcome schema;
      try {
        schema = SchemaMigrations.migrate(database);
        damage = checkIntegrity ? database.damage() : null;
      } catch (RuntimeException e) {
        database.close();
        throw e;
      }
      if (damage == null) {
        return new Opened(database, schema, schema.created() ? (existed ? "empty" : "missing") : null);
      }
      database.close();
    } catch (RuntimeException e) {
      if (!isCorruption(e)) {
        throw e;
      }
      damage = e.getMessage();
    }
    Path aside = moveAside(file, "corrupt", clock);
    for (String companion : COMPANIONS) {
      moveAside(file.resolveSibling(file.getFileName() + companion), "corrupt", clock);
    }
    log.error("the metadata database {} is corrupt ({}): moved to {}; a new one is built from the cache's files",
        file, String.valueOf(damage).replace('\n', ' '), aside);
    MetadataDatabase database = MetadataDatabase.open(file, poolSize, poolMetrics);
    try {
      return new Opened(database, SchemaMigrations.migrate(database), "corrupt (moved to " + aside.getFileName() + ")");
    } catch (RuntimeException e) {
      database.close();
      throw e;
    }
  }

  /** Whether the database file is damaged: not a SQLite file, or SQLite found it corrupt. */
  private static boolean isCorruption(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof SQLException sql && ((sql.getErrorCode() & 0xff) == SQLiteErrorCode.SQLITE_CORRUPT.code
          || (sql.getErrorCode() & 0xff) == SQLiteErrorCode.SQLITE_NOTADB.code)) {
        return true;
      }
    }
    return false;
  }

  /** Renames {@code file}, if it exists, to {@code <name>.<why>-<time>} beside it; returns the new path. */
  private static Path moveAside(Path file, String why, Clock clock) {
    Path aside = file.resolveSibling(file.getFileName() + "." + why + "-" + STAMP.format(clock.instant()));
    try {
      if (Files.exists(file)) {
        Files.move(file, aside);
        if (why.equals("orphaned")) {
          log.warn("{} belonged to a metadata database that is gone: moved to {}", file, aside);
        }
      }
      return aside;
    } catch (IOException e) {
      throw new UncheckedIOException("cannot move " + file + " aside", e);
    }
  }
}
