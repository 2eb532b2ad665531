package io.cistern.cache;

import com.zaxxer.hikari.HikariConfig;
import com.zaxxer.hikari.HikariDataSource;
import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
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
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import org.sqlite.SQLiteErrorCode;

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

  /**
   * 1: blobs, tags, repository links. 2: which blobs each manifest refers to (for pinning, purging
   * and sizing whole images) and the images an operator pinned.
   */
  private static final int SCHEMA_VERSION = 2;
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
  /** Opened at schema 1: the manifests stored then have no references recorded yet. */
  private volatile boolean referencesToRecord;
  /** This open created the schema: there was no database, or an empty one. */
  private volatile boolean created;

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
        }
        if (version < 2) {
          // IF NOT EXISTS: an upgrade that stopped before its references were recorded runs again.
          statement.executeUpdate("""
              CREATE TABLE IF NOT EXISTS manifest_children (
                manifest TEXT NOT NULL,
                child TEXT NOT NULL,
                PRIMARY KEY (manifest, child)
              ) WITHOUT ROWID""");
          statement.executeUpdate("CREATE INDEX IF NOT EXISTS manifest_children_by_child ON manifest_children (child)");
          statement.executeUpdate("""
              CREATE TABLE IF NOT EXISTS pinned_images (
                digest TEXT PRIMARY KEY,
                pinned_at INTEGER NOT NULL
              ) WITHOUT ROWID""");
        }
        if (version == 0) {
          statement.executeUpdate("PRAGMA user_version = " + SCHEMA_VERSION);
          created = true;
        } else if (version == 1) {
          // Version 2 is recorded only once the cache has recorded the references of the
          // manifests stored under version 1 (finishMigration): they live in the blob files, not
          // here, and a crash half-way must leave the upgrade to be done again.
          statement.executeUpdate("PRAGMA user_version = 1");
          referencesToRecord = true;
        }
      }
      return null;
    });
  }

  /** Whether this open created the schema: the file was missing or empty, so nothing is recorded. */
  boolean created() {
    return created;
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

  /** Whether the database file is damaged: not a SQLite file, or SQLite found it corrupt. */
  static boolean isCorruption(Throwable failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      if (cause instanceof SQLException sql && ((sql.getErrorCode() & 0xff) == SQLiteErrorCode.SQLITE_CORRUPT.code
          || (sql.getErrorCode() & 0xff) == SQLiteErrorCode.SQLITE_NOTADB.code)) {
        return true;
      }
    }
    return false;
  }

  /** Whether the manifests stored before schema 2 still need their references recorded. */
  boolean referencesToRecord() {
    return referencesToRecord;
  }

  /** The manifests stored before schema 2 (a one-time upgrade walk, hence no index). */
  List<Digest> manifestsToRecord() {
    return withConnection(connection -> {
      List<Digest> digests = new ArrayList<>();
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("SELECT digest FROM blobs WHERE media_type IS NOT NULL")) {
        while (rs.next()) {
          digests.add(Digest.parse(rs.getString(1)));
        }
      }
      return digests;
    });
  }

  /** Records schema 2 once the references of older manifests are in. */
  void finishMigration() {
    inTransaction(connection -> {
      try (Statement statement = connection.createStatement()) {
        statement.executeUpdate("PRAGMA user_version = " + SCHEMA_VERSION);
      }
      referencesToRecord = false;
      return null;
    });
  }

  /** Records what a manifest refers to, {@link #WRITE_BATCH} manifests per transaction. */
  void recordReferences(Map<Digest, List<Digest>> referencesByManifest) {
    List<Map.Entry<Digest, List<Digest>>> entries = new ArrayList<>(referencesByManifest.entrySet());
    for (int from = 0; from < entries.size(); from += WRITE_BATCH) {
      List<Map.Entry<Digest, List<Digest>>> chunk = entries.subList(from, Math.min(entries.size(), from + WRITE_BATCH));
      inTransaction(connection -> {
        for (Map.Entry<Digest, List<Digest>> entry : chunk) {
          insertChildren(connection, entry.getKey(), entry.getValue());
        }
        return null;
      });
    }
  }

  // ---- blobs ----

  /** A new row inherits a pin from an image pinned as such, or from a pinned manifest referring to it. */
  static final String INSERT_BLOB = """
      INSERT INTO blobs (digest, size, media_type, stored_at, last_access, pinned) VALUES (?, ?, ?, ?, ?,
        EXISTS (SELECT 1 FROM pinned_images WHERE digest = ?)
        OR EXISTS (SELECT 1 FROM manifest_children c JOIN blobs p ON p.digest = c.manifest
                   WHERE c.child = ? AND p.pinned = 1))
      ON CONFLICT (digest) DO UPDATE SET
        size = excluded.size,
        media_type = COALESCE(excluded.media_type, blobs.media_type),
        last_access = excluded.last_access""";

  /**
   * Records a newly published blob or manifest with the blobs and manifests it refers to. New
   * content inherits a pin from a pinned manifest that refers to it (a platform or layer pulled
   * after its image was pinned); a pinned manifest passes its pin on to what it refers to. A
   * re-published digest keeps its pin, and its media type unless a new one is given.
   *
   * @param mediaType the manifest media type; null for layers and configs
   * @param references what a manifest refers to; empty for anything else
   * @return the size the row had before, or -1 if it is new
   */
  long insertBlob(Digest digest, long size, String mediaType, List<Digest> references, long now) {
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
      try (PreparedStatement insert = connection.prepareStatement(INSERT_BLOB)) {
        insert.setString(1, digest.toString());
        insert.setLong(2, size);
        insert.setString(3, mediaType);
        insert.setLong(4, now);
        insert.setLong(5, now);
        insert.setString(6, digest.toString());
        insert.setString(7, digest.toString());
        insert.executeUpdate();
      }
      if (!references.isEmpty()) {
        insertChildren(connection, digest, references);
        if (isPinned(connection, digest)) {
          pinClosure(connection, digest);
        }
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
    return withConnection(connection -> findTag(connection, key));
  }

  private static Optional<TagMapping> findTag(Connection connection, TagKey key) throws SQLException {
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

  // ---- images: a manifest with everything it refers to ----

  /** Every digest reachable from {@code root} through recorded references, {@code root} included. */
  private static final String CLOSURE = """
      WITH RECURSIVE closure(digest) AS (
        VALUES (?)
        UNION
        SELECT c.child FROM manifest_children c JOIN closure ON c.manifest = closure.digest)
      """;

  // The queries below are named so that a test can check their plans use the indexes.

  /** Every digest an image refers to, with its row when it is stored. */
  static final String IMAGE_ROWS = CLOSURE + """
      SELECT closure.digest, b.size, b.media_type, b.stored_at, b.last_access, b.pinned
      FROM closure LEFT JOIN blobs b ON b.digest = closure.digest""";

  /** Whether a digest is, or is referred to (however indirectly) by, an image pinned as such. */
  static final String PINNED_BY_AN_IMAGE = """
      WITH RECURSIVE up(digest) AS (
        VALUES (?)
        UNION
        SELECT c.manifest FROM manifest_children c JOIN up ON c.child = up.digest)
      SELECT EXISTS (SELECT 1 FROM up JOIN pinned_images p ON p.digest = up.digest)""";

  static final String TAGGED = "SELECT 1 FROM tags WHERE digest = ? LIMIT 1";

  /** The stored manifests that refer to a digest. */
  static final String STORED_PARENTS =
      "SELECT c.manifest FROM manifest_children c JOIN blobs b ON b.digest = c.manifest WHERE c.child = ?";

  static final String UNPINNED_OLDER_THAN = """
      SELECT digest, size, media_type, stored_at, last_access, pinned FROM blobs
      WHERE pinned = 0 AND last_access < ? AND (last_access > ? OR (last_access = ? AND digest > ?))
      ORDER BY last_access, digest LIMIT ?""";

  /**
   * What an image holds: the stored rows reachable from {@code root} (root first), and how many
   * referenced digests are not stored.
   */
  ImageRows imageRows(Digest root) {
    return withConnection(connection -> imageRows(connection, root));
  }

  private static ImageRows imageRows(Connection connection, Digest root) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(IMAGE_ROWS)) {
      select.setString(1, root.toString());
      List<BlobRecord> stored = new ArrayList<>();
      int missing = 0;
      try (ResultSet rs = select.executeQuery()) {
        while (rs.next()) {
          rs.getLong(2);
          if (rs.wasNull()) {
            missing++;
            continue;
          }
          BlobRecord record = record(Digest.parse(rs.getString(1)), rs, 2);
          if (record.digest().equals(root)) {
            stored.add(0, record);
          } else {
            stored.add(record);
          }
        }
      }
      return new ImageRows(stored, missing);
    }
  }

  /**
   * The rows of an image and the number of digests it refers to that are not stored.
   *
   * @param stored the root's row first (when it is stored), then the rest in no set order
   */
  record ImageRows(List<BlobRecord> stored, int missing) {

    long bytes() {
      return stored.stream().mapToLong(BlobRecord::size).sum();
    }
  }

  /** Pins an image: it is recorded as pinned, and it and everything it refers to are never evicted. */
  ImageRows pinImage(Digest root, long now) {
    return inTransaction(connection -> {
      try (PreparedStatement insert = connection.prepareStatement(
          "INSERT OR IGNORE INTO pinned_images (digest, pinned_at) VALUES (?, ?)")) {
        insert.setString(1, root.toString());
        insert.setLong(2, now);
        insert.executeUpdate();
      }
      pinClosure(connection, root);
      return imageRows(connection, root);
    });
  }

  /**
   * Unpins an image: what it refers to stays pinned only where another pinned image refers to it
   * too (two tags of one base image share its layers).
   *
   * @return the image's rows, as they are after the change
   */
  ImageRows unpinImage(Digest root) {
    return inTransaction(connection -> {
      try (PreparedStatement delete = connection.prepareStatement("DELETE FROM pinned_images WHERE digest = ?")) {
        delete.setString(1, root.toString());
        delete.executeUpdate();
      }
      ImageRows rows = imageRows(connection, root);
      try (PreparedStatement stillPinned = connection.prepareStatement(PINNED_BY_AN_IMAGE);
           PreparedStatement unpin = connection.prepareStatement("UPDATE blobs SET pinned = 0 WHERE digest = ?")) {
        for (BlobRecord record : rows.stored()) {
          if (!record.pinned()) {
            continue;
          }
          stillPinned.setString(1, record.digest().toString());
          try (ResultSet rs = stillPinned.executeQuery()) {
            if (rs.next() && rs.getBoolean(1)) {
              continue;
            }
          }
          unpin.setString(1, record.digest().toString());
          unpin.addBatch();
        }
        unpin.executeBatch();
      }
      return imageRows(connection, root);
    });
  }

  /** Whether {@code root} was pinned as an image (not merely as part of one). */
  boolean isPinnedImage(Digest root) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement("SELECT 1 FROM pinned_images WHERE digest = ?")) {
        select.setString(1, root.toString());
        try (ResultSet rs = select.executeQuery()) {
          return rs.next();
        }
      }
    });
  }

  private static void pinClosure(Connection connection, Digest root) throws SQLException {
    try (PreparedStatement update = connection.prepareStatement(CLOSURE
        + "UPDATE blobs SET pinned = 1 WHERE pinned = 0 AND digest IN (SELECT digest FROM closure)")) {
      update.setString(1, root.toString());
      update.executeUpdate();
    }
  }

  private static boolean isPinned(Connection connection, Digest digest) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement("SELECT pinned FROM blobs WHERE digest = ?")) {
      select.setString(1, digest.toString());
      try (ResultSet rs = select.executeQuery()) {
        return rs.next() && rs.getInt(1) != 0;
      }
    }
  }

  private static void insertChildren(Connection connection, Digest manifest, List<Digest> children) throws SQLException {
    try (PreparedStatement insert = connection.prepareStatement(
        "INSERT OR IGNORE INTO manifest_children (manifest, child) VALUES (?, ?)")) {
      for (Digest child : children) {
        insert.setString(1, manifest.toString());
        insert.setString(2, child.toString());
        insert.addBatch();
      }
      insert.executeBatch();
    }
  }

  /**
   * Deletes the rows of an image: {@code root} and whatever it refers to that nothing else still
   * needs. Kept are content another stored manifest refers to, content that is tagged, and pinned
   * content. Tags, repository links and references of what goes are deleted with it.
   *
   * @return the deleted rows (the files to unlink and bytes to free), or null when {@code root} is
   *     a pinned image and nothing was deleted
   */
  List<BlobRecord> deleteImage(Digest root) {
    return inTransaction(connection -> {
      ImageRows rows = imageRows(connection, root);
      if (rows.stored().isEmpty() || !rows.stored().get(0).digest().equals(root)) {
        return List.of();
      }
      if (rows.stored().get(0).pinned()) {
        return null;
      }
      Map<Digest, BlobRecord> doomed = new LinkedHashMap<>();
      rows.stored().forEach(record -> doomed.put(record.digest(), record));
      // Keeping one manifest keeps what it refers to, which may keep more: repeat until nothing
      // changes. Each round costs one indexed lookup per row of this image.
      boolean changed = true;
      while (changed) {
        changed = false;
        for (Iterator<BlobRecord> it = doomed.values().iterator(); it.hasNext(); ) {
          BlobRecord record = it.next();
          if (!record.digest().equals(root) && stillNeeded(connection, record, doomed.keySet())) {
            it.remove();
            changed = true;
          }
        }
      }
      deleteRows(connection, doomed.keySet());
      return new ArrayList<>(doomed.values());
    });
  }

  private static boolean stillNeeded(Connection connection, BlobRecord record, Set<Digest> doomed) throws SQLException {
    if (record.pinned()) {
      return true;
    }
    try (PreparedStatement tagged = connection.prepareStatement(TAGGED)) {
      tagged.setString(1, record.digest().toString());
      try (ResultSet rs = tagged.executeQuery()) {
        if (rs.next()) {
          return true;
        }
      }
    }
    try (PreparedStatement parents = connection.prepareStatement(STORED_PARENTS)) {
      parents.setString(1, record.digest().toString());
      try (ResultSet rs = parents.executeQuery()) {
        while (rs.next()) {
          if (!doomed.contains(Digest.parse(rs.getString(1)))) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /**
   * Deletes a tag, and its repository's link to the manifest unless another tag of that
   * repository still points at it.
   *
   * @return the manifest the tag pointed at, and whether anything (a tag or a repository link
   *     anywhere) still refers to it; empty when there was no such tag
   */
  Optional<UntaggedManifest> deleteTag(TagKey key) {
    return inTransaction(connection -> {
      Optional<TagMapping> mapping = findTag(connection, key);
      if (mapping.isEmpty()) {
        return Optional.empty();
      }
      String digest = mapping.get().digest().toString();
      try (PreparedStatement delete = connection.prepareStatement(
          "DELETE FROM tags WHERE upstream = ? AND repository = ? AND tag = ?")) {
        bindKey(delete, key);
        delete.executeUpdate();
      }
      try (PreparedStatement unlink = connection.prepareStatement("""
          DELETE FROM repository_manifests WHERE upstream = ? AND repository = ? AND digest = ?
            AND NOT EXISTS (SELECT 1 FROM tags WHERE digest = ? AND upstream = ? AND repository = ?)""")) {
        unlink.setString(1, key.upstream());
        unlink.setString(2, key.repository().value());
        unlink.setString(3, digest);
        unlink.setString(4, digest);
        unlink.setString(5, key.upstream());
        unlink.setString(6, key.repository().value());
        unlink.executeUpdate();
      }
      boolean referenced;
      try (PreparedStatement select = connection.prepareStatement("""
          SELECT EXISTS (SELECT 1 FROM tags WHERE digest = ?)
              OR EXISTS (SELECT 1 FROM repository_manifests WHERE digest = ?)""")) {
        select.setString(1, digest);
        select.setString(2, digest);
        try (ResultSet rs = select.executeQuery()) {
          referenced = rs.next() && rs.getBoolean(1);
        }
      }
      return Optional.of(new UntaggedManifest(mapping.get().digest(), referenced));
    });
  }

  /** What {@link #deleteTag} left: the manifest, and whether a tag or repository still refers to it. */
  record UntaggedManifest(Digest digest, boolean stillReferenced) {}

  /**
   * Unpinned blobs last read before {@code cutoff}, oldest first, after the position
   * ({@code afterAccess}, {@code afterDigest}) a previous page ended at; through the
   * (pinned, last_access) index.
   */
  List<BlobRecord> unpinnedOlderThan(long cutoff, long afterAccess, String afterDigest, int limit) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(UNPINNED_OLDER_THAN)) {
        select.setLong(1, cutoff);
        select.setLong(2, afterAccess);
        select.setLong(3, afterAccess);
        select.setString(4, afterDigest);
        select.setInt(5, limit);
        List<BlobRecord> rows = new ArrayList<>(limit);
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            rows.add(record(Digest.parse(rs.getString(1)), rs, 2));
          }
        }
        return rows;
      }
    });
  }

  /** Deletes candidate rows still as they were read (see {@link #deleteEvicted}), on a request connection. */
  List<BlobRecord> deleteUnchanged(List<BlobRecord> candidates) {
    return withConnection(connection -> deleteEvicted(connection, candidates));
  }

  /**
   * Cached images in (upstream, repository, tag) order: every tag, and every manifest a repository
   * holds untagged that is not part of another (pulled by digest), after {@code tag} order;
   * through the tags' and repository links' primary keys.
   *
   * @param upstream only this upstream's, or null for all
   * @param repository only this repository's (with {@code upstream}), or null for all
   */
  List<ImageEntry> images(String upstream, RepositoryName repository, int limit) {
    return withConnection(connection -> {
      String tagFilter = upstream == null ? "" : repository == null ? " WHERE t.upstream = ?" : " WHERE t.upstream = ? AND t.repository = ?";
      String linkFilter = upstream == null ? "" : repository == null ? " AND r.upstream = ?" : " AND r.upstream = ? AND r.repository = ?";
      try (PreparedStatement select = connection.prepareStatement("""
          SELECT * FROM (
            SELECT t.upstream AS upstream, t.repository AS repository, t.tag AS tag, t.digest AS digest
            FROM tags t%s
            UNION ALL
            SELECT r.upstream, r.repository, NULL, r.digest FROM repository_manifests r
            WHERE NOT EXISTS (SELECT 1 FROM tags t WHERE t.digest = r.digest AND t.upstream = r.upstream AND t.repository = r.repository)
              AND NOT EXISTS (SELECT 1 FROM manifest_children c WHERE c.child = r.digest)%s)
          ORDER BY upstream, repository, tag IS NULL, tag, digest LIMIT ?""".formatted(tagFilter, linkFilter))) {
        int index = 1;
        for (int copy = 0; copy < 2 && upstream != null; copy++) {
          select.setString(index++, upstream);
          if (repository != null) {
            select.setString(index++, repository.value());
          }
        }
        select.setInt(index, limit);
        List<ImageEntry> entries = new ArrayList<>();
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            entries.add(new ImageEntry(rs.getString(1), RepositoryName.of(rs.getString(2)), rs.getString(3),
                Digest.parse(rs.getString(4))));
          }
        }
        return entries;
      }
    });
  }

  /** A tag, or an untagged manifest (tag null), of a repository. */
  record ImageEntry(String upstream, RepositoryName repository, String tag, Digest digest) {}

  /**
   * The repositories holding the most bytes: what their tags and pulled manifests refer to, shared
   * content counted once per repository. An aggregate over every repository link, for the status
   * page; callers should not run it per request.
   */
  List<RepositoryUsage> topRepositories(int limit) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement("""
          WITH RECURSIVE reach(upstream, repository, digest) AS (
            SELECT upstream, repository, digest FROM repository_manifests
            UNION
            SELECT reach.upstream, reach.repository, c.child FROM reach JOIN manifest_children c ON c.manifest = reach.digest)
          SELECT reach.upstream, reach.repository, SUM(b.size) AS bytes, COUNT(*)
          FROM reach JOIN blobs b ON b.digest = reach.digest
          GROUP BY reach.upstream, reach.repository ORDER BY bytes DESC, reach.upstream, reach.repository LIMIT ?""")) {
        select.setInt(1, limit);
        List<RepositoryUsage> usage = new ArrayList<>();
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            usage.add(new RepositoryUsage(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4)));
          }
        }
        return usage;
      }
    });
  }

  /** How many stored blobs are pinned and their bytes, through the (pinned, …) index. */
  long[] pinnedTotals() {
    return withConnection(connection -> {
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE pinned = 1")) {
        rs.next();
        return new long[] {rs.getLong(1), rs.getLong(2)};
      }
    });
  }

  private static BlobRecord record(Digest digest, ResultSet rs, int firstColumn) throws SQLException {
    return new BlobRecord(digest, rs.getLong(firstColumn), rs.getString(firstColumn + 1), rs.getLong(firstColumn + 2),
        rs.getLong(firstColumn + 3), rs.getInt(firstColumn + 4) != 0);
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

  /**
   * Deletes blob rows with the tag mappings and repository links that pointed at them, within the
   * caller's transaction: it opens none of its own, since committing a nested one would commit
   * the caller's work half done.
   */
  private static void deleteRows(Connection connection, Collection<Digest> digests) throws SQLException {
    try (PreparedStatement delete = connection.prepareStatement("DELETE FROM blobs WHERE digest = ?")) {
      for (Digest digest : digests) {
        delete.setString(1, digest.toString());
        delete.addBatch();
      }
      delete.executeBatch();
    }
    deleteReferences(connection, digests);
  }

  /** Tags, repository links and references die with their manifest: a tag must never point at nothing. */
  private static void deleteReferences(Connection connection, Collection<Digest> digests) throws SQLException {
    if (digests.isEmpty()) {
      return;
    }
    // A manifest's references go with it; references to it stay, so that its parent still knows
    // it if it is stored again.
    try (PreparedStatement tags = connection.prepareStatement("DELETE FROM tags WHERE digest = ?");
         PreparedStatement links = connection.prepareStatement("DELETE FROM repository_manifests WHERE digest = ?");
         PreparedStatement children = connection.prepareStatement("DELETE FROM manifest_children WHERE manifest = ?")) {
      for (Digest digest : digests) {
        tags.setString(1, digest.toString());
        tags.addBatch();
        links.setString(1, digest.toString());
        links.addBatch();
        children.setString(1, digest.toString());
        children.addBatch();
      }
      tags.executeBatch();
      links.executeBatch();
      children.executeBatch();
    }
  }

  /**
   * Runs {@code work} as one transaction on a connection the caller holds. After some errors
   * (SQLITE_FULL, SQLITE_IOERR) SQLite has already rolled the transaction back by itself, so the
   * rollback here and the commit that restoring auto-commit issues fail with "no transaction is
   * active": symptoms, kept as suppressed exceptions, while the first error is the one thrown.
   */
  private static <T> T inTransaction(Connection connection, SqlBody<T> work) throws SQLException {
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
    inTransaction(connection -> {
      deleteRows(connection, digests);
      return null;
    });
  }

  // ---- verification: walking the rows, and dropping the row of a file that failed ----

  /** A page of rows in digest order, through the primary key. */
  static final String BLOBS_AFTER = """
      SELECT digest, size, media_type, stored_at, last_access, pinned FROM blobs
      WHERE digest > ? ORDER BY digest LIMIT ?""";

  /** The upstreams whose repositories hold a digest, or a manifest that refers to it however indirectly. */
  static final String UPSTREAMS_HOLDING = """
      WITH RECURSIVE up(digest) AS (
        VALUES (?)
        UNION
        SELECT c.manifest FROM manifest_children c JOIN up ON c.child = up.digest)
      SELECT DISTINCT r.upstream FROM up JOIN repository_manifests r ON r.digest = up.digest""";

  /** Up to {@code limit} rows whose digest sorts after {@code afterDigest} ("" for the first). */
  List<BlobRecord> blobsAfter(String afterDigest, int limit) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(BLOBS_AFTER)) {
        select.setString(1, afterDigest);
        select.setInt(2, limit);
        List<BlobRecord> rows = new ArrayList<>(limit);
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            rows.add(record(Digest.parse(rs.getString(1)), rs, 2));
          }
        }
        return rows;
      }
    });
  }

  Set<String> upstreamsHolding(Digest digest) {
    return withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(UPSTREAMS_HOLDING)) {
        select.setString(1, digest.toString());
        Set<String> upstreams = new HashSet<>();
        try (ResultSet rs = select.executeQuery()) {
          while (rs.next()) {
            upstreams.add(rs.getString(1));
          }
        }
        return upstreams;
      }
    });
  }

  /**
   * Deletes a blob's row, with the tags and links that die with it, if {@code fileGone} still
   * holds inside the write transaction. A publication renames its file into place before it
   * writes its row, and its write waits for this transaction: so either {@code fileGone} sees
   * the new file and the row stays, or the publication's row is written after this delete. That
   * one {@code stat} is the only I/O done while SQLite's write lock is held.
   *
   * @return the deleted row; empty when there was none or the file is back
   */
  Optional<BlobRecord> deleteBlobRowIf(Digest digest, BooleanSupplier fileGone) {
    return inTransaction(connection -> {
      Optional<BlobRecord> row;
      try (PreparedStatement select = connection.prepareStatement(
          "SELECT size, media_type, stored_at, last_access, pinned FROM blobs WHERE digest = ?")) {
        select.setString(1, digest.toString());
        try (ResultSet rs = select.executeQuery()) {
          row = rs.next() ? Optional.of(record(digest, rs, 1)) : Optional.empty();
        }
      }
      if (row.isEmpty() || !fileGone.getAsBoolean()) {
        return Optional.empty();
      }
      deleteRows(connection, List.of(digest));
      return row;
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

  /**
   * A metadata database failure; request paths answer it as 503, never as a stack trace. When the
   * database could not be written (see {@link #isLocalStorageFailure}) its cause is a
   * {@link LocalStorageException} around SQLite's own error.
   */
  public static final class MetadataException extends RuntimeException {
    MetadataException(SQLException cause) {
      super("metadata database: " + cause.getMessage(),
          isLocalStorageFailure(cause) ? new LocalStorageException("the metadata database cannot be written", cause) : cause);
    }
  }

  /**
   * SQLite's primary result codes that mean its files cannot be written or read back: read-only,
   * I/O error, corrupt, full, cannot open, not a database. A busy lock or a pool timeout is not one.
   */
  private static final Set<Integer> LOCAL_STORAGE_CODES = Set.of(
      SQLiteErrorCode.SQLITE_READONLY.code, SQLiteErrorCode.SQLITE_IOERR.code, SQLiteErrorCode.SQLITE_CORRUPT.code,
      SQLiteErrorCode.SQLITE_FULL.code, SQLiteErrorCode.SQLITE_CANTOPEN.code, SQLiteErrorCode.SQLITE_NOTADB.code);

  static boolean isLocalStorageFailure(SQLException failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      // Extended codes (SQLITE_IOERR_WRITE) keep the primary code in their low byte.
      if (cause instanceof SQLException sql && LOCAL_STORAGE_CODES.contains(sql.getErrorCode() & 0xff)) {
        return true;
      }
    }
    return false;
  }
}
