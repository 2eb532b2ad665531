package io.cistern.cache;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;

/**
 * The SQLite file that holds the cache's metadata, and the connections to it: nothing about what
 * the tables hold (that is {@link BlobRows}, {@link TagRows}, {@link ReferrerRows},
 * {@link ImageGraph}, {@link EvictionQueries}, each with its own SQL; {@link SchemaMigrations}
 * creates and upgrades them).
 *
 * <p>SQLite allows one writer at a time; WAL mode lets readers run beside it. Write transactions
 * begin IMMEDIATE, so a writer waits for the lock (busy timeout) up front instead of failing when
 * it upgrades a read.
 *
 * <p>Connections come from two pools. Request paths share {@code poolSize - 1}; the evictor has a
 * pool of exactly one to itself. So a request never waits for the connection a pass holds, and a
 * pass never waits in a queue of a thousand stores (it cannot time out on the pool). They still
 * take turns at SQLite's write lock, but every write transaction is short: one row on a request
 * path, at most {@link #WRITE_BATCH} rows for the evictor. A writer waits for that lock inside
 * SQLite (busy timeout) while holding its connection, so the small request pool also bounds how
 * many writers spin on the lock; the rest wait in Hikari's queue ({@code connectionTimeout}).
 * Both limits are far above any one transaction; they only turn a stuck database into a 503.
 */
final class MetadataDatabase implements AutoCloseable {

  private static final Duration CONNECTION_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration BUSY_TIMEOUT = Duration.ofSeconds(30);
  /**
   * The most rows one evictor transaction writes. At a million rows each costs about one scattered
   * page (bench/eviction-scale), so this keeps the write lock held for milliseconds, and a request
   * path that wants to write waits at most that long behind eviction.
   */
  static final int WRITE_BATCH = 128;
  private static final long EVICTION_PAGE_CACHE_KIB = 16 * 1024;
  static final String REQUEST_POOL = "cistern-metadata";
  static final String EVICTION_POOL = "cistern-eviction";

  private final HikariDataSource pool;
  private final HikariDataSource evictionPool;

  private MetadataDatabase(HikariDataSource pool, HikariDataSource evictionPool) {
    this.pool = pool;
    this.evictionPool = evictionPool;
  }

  /**
   * Opens the database at {@code file} with {@code poolSize} connections: one for the evictor, the
   * rest for request paths. Its schema is {@link SchemaMigrations}' to create or upgrade.
   *
   * @param poolMetrics where both pools report borrows, waits and timeouts (Hikari's own
   *     metrics, tagged with the pool's name), or null for nowhere
   */
  static MetadataDatabase open(Path file, int poolSize, MetricsTrackerFactory poolMetrics) {
    return open(file, poolSize, CONNECTION_TIMEOUT, poolMetrics);
  }

  /** As {@link #open(Path, int, MetricsTrackerFactory)}; tests shorten how long a borrower waits for a connection. */
  static MetadataDatabase open(Path file, int poolSize, Duration connectionTimeout, MetricsTrackerFactory poolMetrics) {
    if (poolSize < 2) {
      throw new IllegalArgumentException("the metadata pool needs at least 2 connections: one for the evictor, one for requests");
    }
    HikariDataSource requests = new HikariDataSource(poolConfig(file, REQUEST_POOL, poolSize - 1, connectionTimeout, poolMetrics));
    try {
      HikariConfig evictionConfig = poolConfig(file, EVICTION_POOL, 1, connectionTimeout, poolMetrics);
      // A pass touches one leaf page per evicted row, all over the blob and tag trees; with their
      // interior pages cached that is one read, not one per level (bench/eviction-scale).
      evictionConfig.addDataSourceProperty("cache_size", Long.toString(-EVICTION_PAGE_CACHE_KIB));
      return new MetadataDatabase(requests, new HikariDataSource(evictionConfig));
    } catch (RuntimeException e) {
      requests.close();
      throw e;
    }
  }

  private static HikariConfig poolConfig(Path file, String name, int size, Duration connectionTimeout,
      MetricsTrackerFactory poolMetrics) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setJdbcUrl("jdbc:sqlite:" + file.toAbsolutePath());
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(connectionTimeout.toMillis());
    config.setMetricsTrackerFactory(poolMetrics);
    config.addDataSourceProperty("journal_mode", "WAL");
    config.addDataSourceProperty("synchronous", "NORMAL");
    config.addDataSourceProperty("busy_timeout", Long.toString(BUSY_TIMEOUT.toMillis()));
    config.addDataSourceProperty("transaction_mode", "IMMEDIATE");
    return config;
  }

  /** Lends one connection of the request pool to {@code work}. */
  <T> T withConnection(SqlWork<T> work) {
    return borrow(pool, work);
  }

  /** Runs {@code work} as one transaction on a connection of the request pool. */
  <T> T inTransaction(SqlWork<T> work) {
    return withConnection(connection -> inTransaction(connection, () -> work.run(connection)));
  }

  /**
   * Lends the evictor its connection. The pool holds one, so a second borrow while one is out
   * would wait and then time out (which the pool's metrics count).
   */
  <T> T withEvictionConnection(SqlWork<T> work) {
    return borrow(evictionPool, work);
  }

  private static <T> T borrow(HikariDataSource source, SqlWork<T> work) {
    try (Connection connection = source.getConnection()) {
      return work.run(connection);
    } catch (SQLException e) {
      throw new MetadataException(e);
    }
  }

  /**
   * Runs {@code work} as one transaction on a connection the caller holds. After some errors
   * (SQLITE_FULL, SQLITE_IOERR) SQLite has already rolled the transaction back by itself, so the
   * rollback here and the commit that restoring auto-commit issues fail with "no transaction is
   * active": symptoms, kept as suppressed exceptions, while the first error is the one thrown.
   */
  static <T> T inTransaction(Connection connection, SqlBody<T> work) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(false);
    T result;
    try {
      result = work.run();
      connection.commit();
    } catch (SQLException | RuntimeException e) {
      try {
        connection.rollback();
      } catch (SQLException rollbackFailure) {
        e.addSuppressed(rollbackFailure);
      }
      try {
        connection.setAutoCommit(autoCommit);
      } catch (SQLException restoreFailure) {
        e.addSuppressed(restoreFailure);
      }
      throw e;
    }
    connection.setAutoCommit(autoCommit);
    return result;
  }

  /**
   * SQLite's {@code quick_check} (the structure of every page and index, without comparing index
   * content to the tables: linear in the file's size). Null when the database is intact, else the
   * first problem found.
   */
  String damage() {
    return withConnection(connection -> {
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("PRAGMA quick_check(1)")) {
        String result = rs.next() ? rs.getString(1) : "no answer";
        return "ok".equals(result) ? null : result;
      }
    });
  }

  /** Borrows a connection and reads the schema page: proves the pool and the database file answer. */
  void ping() {
    withConnection(connection -> {
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("SELECT count(*) FROM sqlite_master")) {
        return rs.next();
      }
    });
  }

  @Override
  public void close() {
    try {
      evictionPool.close();
    } finally {
      pool.close();
    }
  }

  /** A unit of JDBC work on a borrowed connection. */
  @FunctionalInterface
  interface SqlWork<T> {
    T run(Connection connection) throws SQLException;
  }

  /** The body of a transaction on a connection already in hand. */
  @FunctionalInterface
  interface SqlBody<T> {
    T run() throws SQLException;
  }
}
