package io.cistern.cache;

import io.cistern.oci.Digest;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;

/**
 * A cache's {@code metadata.db} as any SQLite client sees it, on a connection of its own: for tests
 * to read what the cache recorded (WAL mode lets it read beside a running cache), or to break it.
 */
final class SqliteClient {

  private SqliteClient() {}

  /** Makes the database refuse every new blob row from now on, as one that cannot be written would. */
  static void refuseNewBlobRows(Path cacheDirectory) {
    query(cacheDirectory, connection -> {
      try (Statement statement = connection.createStatement()) {
        statement.executeUpdate("""
            CREATE TRIGGER refuse_blob_rows BEFORE INSERT ON blobs
            BEGIN SELECT RAISE(ABORT, 'refused by the test'); END""");
      }
      return null;
    });
  }

  static <T> T query(Path cacheDirectory, MetadataDatabase.SqlWork<T> work) {
    try (Connection connection = DriverManager.getConnection(
        "jdbc:sqlite:" + cacheDirectory.resolve(CacheDirectory.DATABASE_FILE))) {
      return work.run(connection);
    } catch (SQLException e) {
      throw new IllegalStateException(e);
    }
  }

  /** The row of a blob, as a request path reads it. */
  static Optional<BlobRecord> blob(Path cacheDirectory, Digest digest) {
    return query(cacheDirectory, connection -> {
      try (PreparedStatement select = connection.prepareStatement(
          "SELECT size, media_type, stored_at, last_access, pinned FROM blobs WHERE digest = ?")) {
        select.setString(1, digest.toString());
        try (ResultSet rs = select.executeQuery()) {
          return rs.next() ? Optional.of(BlobRows.read(digest, rs, 1)) : Optional.empty();
        }
      }
    });
  }

  /** The sum of the rows' sizes. */
  static long storedBytes(Path cacheDirectory) {
    return single(cacheDirectory, "SELECT COALESCE(SUM(size), 0) FROM blobs");
  }

  static long rows(Path cacheDirectory) {
    return single(cacheDirectory, "SELECT COUNT(*) FROM blobs");
  }

  static long userVersion(Path cacheDirectory) {
    return single(cacheDirectory, "PRAGMA user_version");
  }

  static long single(Path cacheDirectory, String query) {
    return query(cacheDirectory, connection -> {
      try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery(query)) {
        rs.next();
        return rs.getLong(1);
      }
    });
  }
}
