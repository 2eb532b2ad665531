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
import java.time.Instant;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Cache metadata in SQLite: one row per stored blob (size, manifest media type, last access,
 * pin), tag mappings per upstream and repository, and which repositories a manifest was pulled
 * for.
 *
 * <p>SQLite allows one writer at a time; WAL mode lets readers run beside it. Write transactions
 * begin IMMEDIATE, so a writer waits for the lock (busy timeout) up front instead of failing when
 * it upgrades a read. Every lookup on a request path goes through an index: blobs by digest, tags
 * by key, eviction candidates by (pinned, last_access), tags by digest when a manifest goes.
 */
public final class MetadataStore implements AutoCloseable {

  private static final int SCHEMA_VERSION = 1;

  private final HikariDataSource pool;

  private MetadataStore(HikariDataSource pool) {
    this.pool = pool;
  }

  /** Opens (creating or migrating) the database at {@code file} with a pool of {@code poolSize}. */
  public static MetadataStore open(Path file, int poolSize) {
    HikariConfig config = new HikariConfig();
    config.setPoolName("cistern-metadata");
    config.setJdbcUrl("jdbc:sqlite:" + file.toAbsolutePath());
    config.setMaximumPoolSize(poolSize);
    config.setMinimumIdle(1);
    config.setConnectionTimeout(30_000);
    config.addDataSourceProperty("journal_mode", "WAL");
    config.addDataSourceProperty("synchronous", "NORMAL");
    config.addDataSourceProperty("busy_timeout", "30000");
    config.addDataSourceProperty("transaction_mode", "IMMEDIATE");
    MetadataStore store = new MetadataStore(new HikariDataSource(config));
    try {
      store.migrate();
    } catch (RuntimeException e) {
      store.close();
      throw e;
    }
    return store;
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

  /** Applies buffered last-access times in one transaction. */
  static void updateAccessTimes(Connection connection, Map<Digest, Long> accessTimes) throws SQLException {
    if (accessTimes.isEmpty()) {
      return;
    }
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(false);
    try (PreparedStatement update = connection.prepareStatement(
        "UPDATE blobs SET last_access = MAX(last_access, ?) WHERE digest = ?")) {
      for (Map.Entry<Digest, Long> entry : accessTimes.entrySet()) {
        update.setLong(1, entry.getValue());
        update.setString(2, entry.getKey().toString());
        update.addBatch();
      }
      update.executeBatch();
      connection.commit();
    } catch (SQLException | RuntimeException e) {
      connection.rollback();
      throw e;
    } finally {
      connection.setAutoCommit(autoCommit);
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

  /** Deletes blob rows with the tag mappings and repository links that pointed at them. */
  static void deleteBlobs(Connection connection, Collection<Digest> digests) throws SQLException {
    boolean autoCommit = connection.getAutoCommit();
    connection.setAutoCommit(false);
    try (PreparedStatement blobs = connection.prepareStatement("DELETE FROM blobs WHERE digest = ?");
         PreparedStatement tags = connection.prepareStatement("DELETE FROM tags WHERE digest = ?");
         PreparedStatement links = connection.prepareStatement("DELETE FROM repository_manifests WHERE digest = ?")) {
      for (Digest digest : digests) {
        for (PreparedStatement statement : List.of(blobs, tags, links)) {
          statement.setString(1, digest.toString());
          statement.addBatch();
        }
      }
      blobs.executeBatch();
      tags.executeBatch();
      links.executeBatch();
      connection.commit();
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

  /** Lends one pooled connection to {@code work}: the evictor's single connection per pass. */
  <T> T withConnection(SqlWork<T> work) {
    try (Connection connection = pool.getConnection()) {
      return work.run(connection);
    } catch (SQLException e) {
      throw new MetadataException(e);
    }
  }

  private <T> T inTransaction(SqlWork<T> work) {
    return withConnection(connection -> {
      connection.setAutoCommit(false);
      try {
        T result = work.run(connection);
        connection.commit();
        return result;
      } catch (SQLException | RuntimeException e) {
        connection.rollback();
        throw e;
      } finally {
        connection.setAutoCommit(true);
      }
    });
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

  /** The pool's active connections now; lets tests check the evictor's one-connection rule. */
  public int activeConnections() {
    return pool.getHikariPoolMXBean() == null ? 0 : pool.getHikariPoolMXBean().getActiveConnections();
  }

  @Override
  public void close() {
    pool.close();
  }

  /** A unit of JDBC work on a borrowed connection. */
  @FunctionalInterface
  interface SqlWork<T> {
    T run(Connection connection) throws SQLException;
  }

  /** A metadata database failure; request paths answer it as 503, never as a stack trace. */
  public static final class MetadataException extends RuntimeException {
    MetadataException(SQLException cause) {
      super("metadata database: " + cause.getMessage(), cause);
    }
  }
}
