package io.cistern.cache;

import io.cistern.oci.Digest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What removing unpinned blobs by age reads and writes: buffered access times written back, the
 * least recently used rows (or those last read before a cutoff) through the (pinned, last_access)
 * index, and the deletion of candidates that are still as they were read. The evictor runs these
 * on the one connection it holds for a pass ({@link MetadataDatabase#withEvictionConnection});
 * an operator's purge by age runs them on a request connection.
 */
final class EvictionQueries {

  static final String UNPINNED_OLDER_THAN = """
      SELECT digest, size, media_type, stored_at, last_access, pinned FROM blobs
      WHERE pinned = 0 AND last_access < ? AND (last_access > ? OR (last_access = ? AND digest > ?))
      ORDER BY last_access, digest LIMIT ?""";

  private final MetadataDatabase database;

  EvictionQueries(MetadataDatabase database) {
    this.database = database;
  }

  /**
   * Unpinned blobs last read before {@code cutoff}, oldest first, after the position
   * ({@code afterAccess}, {@code afterDigest}) a previous page ended at.
   */
  List<BlobRecord> unpinnedOlderThan(long cutoff, long afterAccess, String afterDigest, int limit) {
    return database.withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(UNPINNED_OLDER_THAN)) {
        select.setLong(1, cutoff);
        select.setLong(2, afterAccess);
        select.setLong(3, afterAccess);
        select.setString(4, afterDigest);
        select.setInt(5, limit);
        return BlobRows.readAll(select, limit);
      }
    });
  }

  /** Deletes candidate rows still as they were read (see {@link #deleteUnchanged(Connection, List)}), on a request connection. */
  List<BlobRecord> deleteUnchanged(List<BlobRecord> candidates) {
    return database.withConnection(connection -> deleteUnchanged(connection, candidates));
  }

  /**
   * Applies buffered last-access times, {@link MetadataDatabase#WRITE_BATCH} rows per transaction
   * so that request writes never wait long behind a large flush.
   */
  static void updateAccessTimes(Connection connection, Map<Digest, Long> accessTimes) throws SQLException {
    List<Map.Entry<Digest, Long>> entries = new ArrayList<>(accessTimes.entrySet());
    for (int from = 0; from < entries.size(); from += MetadataDatabase.WRITE_BATCH) {
      List<Map.Entry<Digest, Long>> chunk = entries.subList(from, Math.min(entries.size(), from + MetadataDatabase.WRITE_BATCH));
      MetadataDatabase.inTransaction(connection, () -> {
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

  /** The least recently used unpinned blobs, oldest first. */
  static List<BlobRecord> leastRecentlyUsed(Connection connection, int limit) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement("""
        SELECT digest, size, media_type, stored_at, last_access, pinned FROM blobs
        WHERE pinned = 0 ORDER BY last_access, digest LIMIT ?""")) {
      select.setInt(1, limit);
      return BlobRows.readAll(select, limit);
    }
  }

  /**
   * Deletes the rows of candidates that are still as they were read, with what dies with them
   * ({@link BlobRows#deleteDependents}), in one transaction. A candidate that was re-stored,
   * touched or pinned since it was read keeps its row.
   *
   * @return the candidates whose rows were deleted: exactly the files to unlink and bytes to free
   */
  static List<BlobRecord> deleteUnchanged(Connection connection, List<BlobRecord> candidates) throws SQLException {
    if (candidates.isEmpty()) {
      return List.of();
    }
    return MetadataDatabase.inTransaction(connection, () -> {
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
      BlobRows.deleteDependents(connection, deleted.stream().map(BlobRecord::digest).toList());
      return deleted;
    });
  }
}
