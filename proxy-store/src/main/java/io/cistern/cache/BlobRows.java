package io.cistern.cache;

import io.cistern.oci.Digest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * One row per stored blob or manifest: its size, a manifest's media type, when it was stored and
 * last read, and whether it is pinned. Every lookup on a request path goes through the primary
 * key; recovery reads one shard ({@code sha256:ab…}) at a time through it too.
 *
 * <p>A row never goes alone: what names it (tags, repository links, a referrers list, the
 * references a manifest has) goes in the same transaction ({@link #deleteRows}), so that nothing
 * points at content that is gone.
 */
final class BlobRows {

  /** A new row inherits a pin from an image pinned as such, or from a pinned manifest referring to it. */
  static final String INSERT = """
      INSERT INTO blobs (digest, size, media_type, stored_at, last_access, pinned) VALUES (?, ?, ?, ?, ?,
        EXISTS (SELECT 1 FROM pinned_images WHERE digest = ?)
        OR EXISTS (SELECT 1 FROM manifest_children c JOIN blobs p ON p.digest = c.manifest
                   WHERE c.child = ? AND p.pinned = 1))
      ON CONFLICT (digest) DO UPDATE SET
        size = excluded.size,
        media_type = COALESCE(excluded.media_type, blobs.media_type),
        last_access = excluded.last_access""";

  /** A page of rows in digest order, through the primary key. */
  static final String AFTER = """
      SELECT digest, size, media_type, stored_at, last_access, pinned FROM blobs
      WHERE digest > ? ORDER BY digest LIMIT ?""";

  private final MetadataDatabase database;

  BlobRows(MetadataDatabase database) {
    this.database = database;
  }

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
  long insert(Digest digest, long size, String mediaType, List<Digest> references, long now) {
    return database.inTransaction(connection -> {
      long previous = -1;
      try (PreparedStatement select = connection.prepareStatement("SELECT size FROM blobs WHERE digest = ?")) {
        select.setString(1, digest.toString());
        try (ResultSet rs = select.executeQuery()) {
          if (rs.next()) {
            previous = rs.getLong(1);
          }
        }
      }
      try (PreparedStatement insert = connection.prepareStatement(INSERT)) {
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
        ManifestReferences.record(connection, digest, references);
        if (isPinned(connection, digest)) {
          ManifestReferences.pinClosure(connection, digest);
        }
      }
      return previous;
    });
  }

  Optional<BlobRecord> find(Digest digest) {
    return database.withConnection(connection -> find(connection, digest));
  }

  private static Optional<BlobRecord> find(Connection connection, Digest digest) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(
        "SELECT size, media_type, stored_at, last_access, pinned FROM blobs WHERE digest = ?")) {
      select.setString(1, digest.toString());
      try (ResultSet rs = select.executeQuery()) {
        return rs.next() ? Optional.of(read(digest, rs, 1)) : Optional.empty();
      }
    }
  }

  /** Total bytes and number of stored blobs; read once at start, then kept in memory. */
  long[] totals() {
    return database.withConnection(connection -> {
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("SELECT COALESCE(SUM(size), 0), COUNT(*) FROM blobs")) {
        rs.next();
        return new long[] {rs.getLong(1), rs.getLong(2)};
      }
    });
  }

  /** Up to {@code limit} rows whose digest sorts after {@code afterDigest} ("" for the first). */
  List<BlobRecord> after(String afterDigest, int limit) {
    return database.withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(AFTER)) {
        select.setString(1, afterDigest);
        select.setInt(2, limit);
        return readAll(select, limit);
      }
    });
  }

  /** The stored digests of one shard ({@code sha256:ab…}), for reconciling files and rows. */
  Set<String> digestsWithPrefix(String prefix) {
    return database.withConnection(connection -> {
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
    return database.withConnection(connection -> {
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

  /** Deletes rows, with what dies with them (see {@link #deleteRows}). */
  void delete(Collection<Digest> digests) {
    if (digests.isEmpty()) {
      return;
    }
    database.inTransaction(connection -> {
      deleteRows(connection, digests);
      return null;
    });
  }

  /**
   * Deletes a blob's row, with what dies with it, if {@code fileGone} still holds inside the write
   * transaction. A publication renames its file into place before it writes its row, and its write
   * waits for this transaction: so either {@code fileGone} sees the new file and the row stays, or
   * the publication's row is written after this delete. That one {@code stat} is the only I/O done
   * while SQLite's write lock is held.
   *
   * @return the deleted row; empty when there was none or the file is back
   */
  Optional<BlobRecord> deleteIf(Digest digest, BooleanSupplier fileGone) {
    return database.inTransaction(connection -> {
      Optional<BlobRecord> row = find(connection, digest);
      if (row.isEmpty() || !fileGone.getAsBoolean()) {
        return Optional.empty();
      }
      deleteRows(connection, List.of(digest));
      return row;
    });
  }

  /**
   * Deletes blob rows with the tag mappings, repository links, referrers lists and references that
   * name them, within the caller's transaction: it opens none of its own, since committing a
   * nested one would commit the caller's work half done.
   */
  static void deleteRows(Connection connection, Collection<Digest> digests) throws SQLException {
    try (PreparedStatement delete = connection.prepareStatement("DELETE FROM blobs WHERE digest = ?")) {
      for (Digest digest : digests) {
        delete.setString(1, digest.toString());
        delete.addBatch();
      }
      delete.executeBatch();
    }
    deleteDependents(connection, digests);
  }

  /**
   * What dies with its manifest: a tag or a referrers list must never point at nothing. A
   * manifest's references go with it; references to it stay, so that its parent still knows it if
   * it is stored again.
   */
  static void deleteDependents(Connection connection, Collection<Digest> digests) throws SQLException {
    if (digests.isEmpty()) {
      return;
    }
    List<String> statements = List.of(
        "DELETE FROM tags WHERE digest = ?",
        "DELETE FROM repository_manifests WHERE digest = ?",
        "DELETE FROM referrers WHERE list = ?",
        "DELETE FROM manifest_children WHERE manifest = ?");
    for (String sql : statements) {
      try (PreparedStatement delete = connection.prepareStatement(sql)) {
        for (Digest digest : digests) {
          delete.setString(1, digest.toString());
          delete.addBatch();
        }
        delete.executeBatch();
      }
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

  /** Every row a query of (digest, size, media_type, stored_at, last_access, pinned) answers. */
  static List<BlobRecord> readAll(PreparedStatement select, int expected) throws SQLException {
    List<BlobRecord> rows = new ArrayList<>(expected);
    try (ResultSet rs = select.executeQuery()) {
      while (rs.next()) {
        rows.add(read(Digest.parse(rs.getString(1)), rs, 2));
      }
    }
    return rows;
  }

  /** The row of {@code digest} from (size, media_type, stored_at, last_access, pinned) at {@code firstColumn}. */
  static BlobRecord read(Digest digest, ResultSet rs, int firstColumn) throws SQLException {
    return new BlobRecord(digest, rs.getLong(firstColumn), rs.getString(firstColumn + 1), rs.getLong(firstColumn + 2),
        rs.getLong(firstColumn + 3), rs.getInt(firstColumn + 4) != 0);
  }
}
