package io.cistern.cache;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Cache metadata in SQLite: one row per stored blob (size, manifest media type, last access,
 * pin), tag mappings per upstream and repository, and which repositories a manifest was pulled
 * for.
 *
 * <p>SQLite allows one writer at a time; WAL mode lets readers run beside it. Write transactions
 * begin IMMEDIATE, so a writer waits for the lock (busy timeout) up front instead of failing when
 * it upgrades a read. Every lookup on a request path goes through an index: blobs by digest, tags
 * by key, eviction candidates by (pinned, last_access), tags by digest when a manifest goes.
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
public final class MetadataStore implements AutoCloseable {

  private static final int SCHEMA_VERSION = 1;
  private static final Duration CONNECTION_TIMEOUT = Duration.ofSeconds(30);
  private static final Duration BUSY_TIMEOUT = Duration.ofSeconds(30);
  /**
   * The most rows one evictor transaction writes. At a million rows each costs about one scattered
   * page (bench/eviction-scale), so this keeps the write lock held for milliseconds, and a request
   * path that wants to write waits at most that long behind eviction.
   */
  static final int WRITE_BATCH = 128;
  private static final long EVICTION_PAGE_CACHE_KIB = 16 * 1024;

  private final HikariDataSource pool;
  private final HikariDataSource evictionPool;
  private final AtomicInteger evictionBorrows = new AtomicInteger();
  private final AtomicInteger peakEvictionBorrows = new AtomicInteger();

  private MetadataStore(HikariDataSource pool, HikariDataSource evictionPool) {
    this.pool = pool;
    this.evictionPool = evictionPool;
  }

  /**
   * Opens (creating or migrating) the database at {@code file} with {@code poolSize} connections:
   * one for the evictor, the rest for request paths.
   */
  public static MetadataStore open(Path file, int poolSize) {
    return open(file, poolSize, CONNECTION_TIMEOUT);
  }

  /** As {@link #open(Path, int)}; tests shorten how long a borrower waits for a connection. */
  static MetadataStore open(Path file, int poolSize, Duration connectionTimeout) {
    if (poolSize < 2) {
      throw new IllegalArgumentException("the metadata pool needs at least 2 connections: one for the evictor, one for requests");
    }
    HikariDataSource requests = new HikariDataSource(poolConfig(file, "cistern-metadata", poolSize - 1, connectionTimeout));
    HikariDataSource eviction;
    try {
      HikariConfig evictionConfig = poolConfig(file, "cistern-eviction", 1, connectionTimeout);
      // A pass touches one leaf page per evicted row, all over the blob and tag trees; with their
      // interior pages cached that is one read, not one per level (bench/eviction-scale).
      evictionConfig.addDataSourceProperty("cache_size", Long.toString(-EVICTION_PAGE_CACHE_KIB));
      eviction = new HikariDataSource(evictionConfig);
    } catch (RuntimeException e) {
      requests.close();
      throw e;
    }
    MetadataStore store = new MetadataStore(requests, eviction);
    try {
      store.migrate();
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
  }

  private static HikariConfig poolConfig(Path file, String name, int size, Duration connectionTimeout) {
    HikariConfig config = new HikariConfig();
    config.setPoolName(name);
    config.setJdbcUrl("jdbc:sqlite:" + file.toAbsolutePath());
    config.setMaximumPoolSize(size);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(connectionTimeout.toMillis());
    config.addDataSourceProperty("journal_mode", "WAL");
    config.addDataSourceProperty("synchronous", "NORMAL");
    config.addDataSourceProperty("busy_timeout", Long.toString(BUSY_TIMEOUT.toMillis()));
    config.addDataSourceProperty("transaction_mode", "IMMEDIATE");
    return config;
  }

  private void migrate() {
    inTransaction(connection -> {
      try (Statement statement = connection.createStatement()) {
        int version;
        try (ResultSet rs = statement.executeQuery("PRAGMA user_version")) {
          version = rs.next() ? rs.getInt(1) : 0;
        }
        if (version > SCHEMA_VERSION) {
          throw new IllegalStateException("the metadata database is from a newer Cistern (schema " + version + ")");
        }
        if (version < 1) {
          statement.executeUpdate("""
              CREATE TABLE blobs (
                digest TEXT PRIMARY KEY,
                size INTEGER NOT NULL,
                media_type TEXT,
                stored_at INTEGER NOT NULL,
                last_access INTEGER NOT NULL,
                pinned INTEGER NOT NULL DEFAULT 0
              ) WITHOUT ROWID""");
          statement.executeUpdate("CREATE INDEX blobs_by_access ON blobs (pinned, last_access, digest)");
          statement.executeUpdate("""
              CREATE TABLE tags (
                upstream TEXT NOT NULL,
                repository TEXT NOT NULL,
                tag TEXT NOT NULL,
                digest TEXT NOT NULL,
                resolved_at INTEGER NOT NULL,
                PRIMARY KEY (upstream, repository, tag)
              ) WITHOUT ROWID""");
          statement.executeUpdate("CREATE INDEX tags_by_digest ON tags (digest)");
          statement.executeUpdate("""
              CREATE TABLE repository_manifests (
                upstream TEXT NOT NULL,
                repository TEXT NOT NULL,
                digest TEXT NOT NULL,
                PRIMARY KEY (upstream, repository, digest)
              ) WITHOUT ROWID""");
          statement.executeUpdate("CREATE INDEX repository_manifests_by_digest ON repository_manifests (digest)");
          statement.executeUpdate("PRAGMA user_version = " + SCHEMA_VERSION);
        }
      }
      return null;
    });
  }

  // ---- blobs ----

  /**
   * Records a newly published blob; a re-published digest keeps its pin and media type.
   *
   * @return the size the row had before, or -1 if the blob is new
   */
  public long insertBlob(Digest digest, long size, String mediaType, long now) {
    return inTransaction(connection -> {
      long previous = -1;
      try (PreparedStatement select = connection.prepareStatement("SELECT size FROM blobs WHERE digest = ?")) {
        select.setString(1, digest.toString());
        try (ResultSet rs = select.executeQuery()) {
          if (rs.next()) {
            previous = rs.getLong(1);
          }
        }
      }
      try (PreparedStatement insert = connection.prepareStatement("""
          INSERT INTO blobs (digest, size, media_type, stored_at, last_access) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (digest) DO UPDATE SET
            size = excluded.size,
            media_type = COALESCE(excluded.media_type, blobs.media_type),
            last_access = excluded.last_access""")) {
        insert.setString(1, digest.toString());
        insert.setLong(2, size);
        insert.setString(3, mediaType);
        insert.setLong(4, now);
        insert.setLong(5, now);
        insert.executeUpdate();
      }
      return previous;
    });
  }

  public Optional<BlobRecord> findBlob(Digest digest) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(
          "SELECT size, media_type, stored_at, last_access, pinned FROM blobs WHERE digest = ?")) {
        select.setString(1, digest.toString());
        try (ResultSet rs = select.executeQuery()) {
          if (!rs.next()) {
            return Optional.empty();
          }
          return Optional.of(new BlobRecord(digest, rs.getLong(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getInt(5) != 0));
        }
      }
    });
  }

  /**
   * Pins a blob (eviction skips it) or unpins it.
   *
   * @return false when no such blob is stored
   */
  public boolean setPinned(Digest digest, boolean pinned) {
    return inTransaction(connection -> {
      try (PreparedStatement update = connection.prepareStatement("UPDATE blobs SET pinned = ? WHERE digest = ?")) {
        update.setInt(1, pinned ? 1 : 0);
        update.setString(2, digest.toString());
        return update.executeUpdate() > 0;
      }
    });
  }

  /** Total bytes and number of stored blobs; read once at start, then kept in memory. */
  public long[] totals() {
    return withConnection(connection -> {
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM blobs")) {
        rs.next();
        return new long[] {rs.getLong(1), rs.getLong(2)};
      }
    });
  }

  // ---- tags ----

  public Optional<TagMapping> findTag(TagKey key) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(
          "SELECT digest, resolved_at FROM tags WHERE upstream = ? AND repository = ? AND tag = ?")) {
        bindKey(select, key);
        try (ResultSet rs = select.executeQuery()) {
          if (!rs.next()) {
            return Optional.empty();
          }
          return Optional.of(new TagMapping(key, Digest.parse(rs.getString(1)), Instant.ofEpochMilli(rs.getLong(2))));
        }
      }
    });
  }

  /** Points a tag at a manifest and records that the repository holds that manifest. */
  public void putTag(TagMapping mapping) {
    inTransaction(connection -> {
      try (PreparedStatement upsert = connection.prepareStatement("""
          INSERT INTO tags (upstream, repository, tag, digest, resolved_at) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (upstream, repository, tag) DO UPDATE SET
            digest = excluded.digest, resolved_at = excluded.resolved_at""")) {
        bindKey(upsert, mapping.key());
        upsert.setString(4, mapping.digest().toString());
        upsert.setLong(5, mapping.resolvedAt().toEpochMilli());
        upsert.executeUpdate();
      }
      link(connection, mapping.key().upstream(), mapping.key().repository(), mapping.digest());
      return null;
    });
  }

  /** Records that {@code repository} at {@code upstream} holds the manifest {@code digest}. */
  public void linkManifest(String upstream, RepositoryName repository, Digest digest) {
    inTransaction(connection -> {
      link(connection, upstream, repository, digest);
      return null;
    });
  }

  /** The cached tags of a repository, sorted. */
  public List<String> tagsOf(String upstream, RepositoryName repository) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(
          "SELECT tag FROM tags WHERE upstream = ? AND repository = ? ORDER BY tag")) {
        select.setString(1, upstream);
        select.setString(2, repository.value());
        List<String> tags = new ArrayList<>();
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            tags.add(rs.getString(1));
          }
        }
        return tags;
      }
    });
  }

  // ---- eviction and recovery, on a connection the caller holds ----

  /**
   * Applies buffered last-access times, {@link #WRITE_BATCH} rows per transaction so that request
   * writes never wait long behind a large flush.
   */
  static void updateAccessTimes(Connection connection, Map<Digest, Long> accessTimes) throws SQLException {
    List<Map.Entry<Digest, Long>> entries = new ArrayList<>(accessTimes.entrySet());
    for (int from = 0; from < entries.size(); from += WRITE_BATCH) {
      List<Map.Entry<Digest, Long>> chunk = entries.subList(from, Math.min(entries.size(), from + WRITE_BATCH));
      inTransaction(connection, () -> {
        try (PreparedStatement update = connection.prepareStatement(
            "UPDATE blobs SET last_access = MAX(last_access, ?) WHERE digest = ?")) {
          for (Map.Entry<Digest, Long> entry : chunk) {
            update.setLong(1, entry.getValue());
            update.setString(2, entry.getKey().toString());
            update.addBatch();
          }
          update.executeBatch();
        }
        return null;
      });
    }
  }

  /** The least recently used unpinned blobs, oldest first, through the (pinned, last_access) index. */
  static List<BlobRecord> leastRecentlyUsed(Connection connection, int limit) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement("""
        SELECT digest, size, media_type, stored_at, last_access FROM blobs
        WHERE pinned = 0 ORDER BY last_access, digest LIMIT ?""")) {
      select.setInt(1, limit);
      List<BlobRecord> rows = new ArrayList<>(limit);
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          rows.add(new BlobRecord(Digest.parse(rs.getString(1)), rs.getLong(2), rs.getString(3), rs.getLong(4), rs.getLong(5), false));
        }
      }
      return rows;
    }
  }

  /**
   * Deletes the rows of eviction candidates that are still as they were read, with the tag
   * mappings and repository links that pointed at them, in one transaction. A candidate that was
   * re-stored, touched or pinned since it was read keeps its row.
   *
   * @return the candidates whose rows were deleted: exactly the files to unlink and bytes to free
   */
  static List<BlobRecord> deleteEvicted(Connection connection, List<BlobRecord> candidates) throws SQLException {
    if (candidates.isEmpty()) {
      return List.of();
    }
    return inTransaction(connection, () -> {
      int[] counts;
      try (PreparedStatement delete = connection.prepareStatement(
          "DELETE FROM blobs WHERE digest = ? AND size = ? AND last_access = ? AND pinned = 0")) {
        for (BlobRecord candidate : candidates) {
          delete.setString(1, candidate.digest().toString());
          delete.setLong(2, candidate.size());
          delete.setLong(3, candidate.lastAccess());
          delete.addBatch();
        }
        counts = delete.executeBatch();
      }
      List<BlobRecord> deleted = new ArrayList<>(candidates.size());
      for (int i = 0; i < candidates.size(); i++) {
        if (counts[i] > 0) {
          deleted.add(candidates.get(i));
        }
      }
      deleteReferences(connection, deleted.stream().map(BlobRecord::digest).toList());
      return deleted;
    });
  }

  /** Deletes blob rows with the tag mappings and repository links that pointed at them. */
  private static void deleteBlobs(Connection connection, Collection<Digest> digests) throws SQLException {
    inTransaction(connection, () -> {
      try (PreparedStatement delete = connection.prepareStatement("DELETE FROM blobs WHERE digest = ?")) {
        for (Digest digest : digests) {
          delete.setString(1, digest.toString());
          delete.addBatch();
        }
        delete.executeBatch();
      }
      deleteReferences(connection, digests);
      return null;
    });
  }

  /** Tags and repository links die with their manifest: a tag must never point at nothing. */
  private static void deleteReferences(Connection connection, Collection<Digest> digests) throws SQLException {
    if (digests.isEmpty()) {
      return;
    }
    try (PreparedStatement tags = connection.prepareStatement("DELETE FROM tags WHERE digest = ?");
         PreparedStatement links = connection.prepareStatement("DELETE FROM repository_manifests WHERE digest = ?")) {
      for (Digest digest : digests) {
        tags.setString(1, digest.toString());
        tags.addBatch();
        links.setString(1, digest.toString());
        links.addBatch();
      }
      tags.executeBatch();
      links.executeBatch();
    }
  }

  /** Runs {@code work} as one transaction on a connection the caller holds. */
  private static <T> T inTransaction(Connection connection, SqlBody<T> work) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(false);
    try {
      T result = work.run();
      connection.commit();
      return result;
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    } finally {
      connection.setAutoCommit(autoCommit);
    }
  }

  /** The stored digests of one shard ({@code sha256:ab…}), for reconciling files and rows. */
  Set<String> digestsWithPrefix(String prefix) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(
          "SELECT digest FROM blobs WHERE digest >= ? AND digest < ?")) {
        select.setString(1, prefix);
        select.setString(2, prefix + "\uffff");
        Set<String> digests = new HashSet<>();
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            digests.add(rs.getString(1));
          }
        }
        return digests;
      }
    });
  }

  /** Every distinct shard prefix ({@code sha256:ab}) that has rows. */
  Set<String> shardPrefixes() {
    return withConnection(connection -> {
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("SELECT DISTINCT substr(digest, 1, instr(digest, ':') + 2) FROM blobs")) {
        Set<String> prefixes = new HashSet<>();
        while (rs.next()) {
          prefixes.add(rs.getString(1));
        }
        return prefixes;
      }
    });
  }

  void deleteBlobRows(Collection<Digest> digests) {
    if (digests.isEmpty()) {
      return;
    }
    withConnection(connection -> {
      deleteBlobs(connection, digests);
      return null;
    });
  }

  /** Lends one connection of the request pool to {@code work}. */
  <T> T withConnection(SqlWork<T> work) {
    return borrow(pool, work);
  }

  /**
   * Lends the evictor its connection. The pool holds one, so a second borrow while one is out
   * would wait and then fail; the borrow count (taken before asking the pool) shows it in tests.
   */
  <T> T withEvictionConnection(SqlWork<T> work) {
    int borrowed = evictionBorrows.incrementAndGet();
    peakEvictionBorrows.accumulateAndGet(borrowed, Math::max);
    try {
      return borrow(evictionPool, work);
    } finally {
      evictionBorrows.decrementAndGet();
    }
  }

  /** The most eviction connections ever borrowed at once (one, unless a pass nested a borrow). */
  int peakEvictionConnections() {
    return peakEvictionBorrows.get();
  }

  private static <T> T borrow(HikariDataSource source, SqlWork<T> work) {
    try (Connection connection = source.getConnection()) {
      return work.run(connection);
    } catch (SQLException e) {
      throw new MetadataException(e);
    }
  }

  private <T> T inTransaction(SqlWork<T> work) {
    return withConnection(connection -> inTransaction(connection, () -> work.run(connection)));
  }

  private static void link(Connection connection, String upstream, RepositoryName repository, Digest digest) throws SQLException {
    try (PreparedStatement insert = connection.prepareStatement(
        "INSERT OR IGNORE INTO repository_manifests (upstream, repository, digest) VALUES (?, ?, ?)")) {
      insert.setString(1, upstream);
      insert.setString(2, repository.value());
      insert.setString(3, digest.toString());
      insert.executeUpdate();
    }
  }

  private static void bindKey(PreparedStatement statement, TagKey key) throws SQLException {
    statement.setString(1, key.upstream());
    statement.setString(2, key.repository().value());
    statement.setString(3, key.tag().value());
  }

  /** Borrows a connection and reads the schema page: proves the pool and the database file answer. */
  public void ping() {
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
  private interface SqlBody<T> {
    T run() throws SQLException;
  }

  /** A metadata database failure; request paths answer it as 503, never as a stack trace. */
  public static final class MetadataException extends RuntimeException {
    MetadataException(SQLException cause) {
      super("metadata database: " + cause.getMessage(), cause);
    }
  }
}
