package io.cistern.cache;

import io.cistern.oci.Digest;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Instant;
import java.util.Optional;

/**
 * Which stored index document holds a subject's referrers list, and when it was fetched, by
 * (upstream, repository, subject). A list is no tag and no image: it appears in no listing and
 * links no repository to its document. The index by list serves what is deleted with the document.
 */
final class ReferrerRows {

  private final MetadataDatabase database;

  ReferrerRows(MetadataDatabase database) {
    this.database = database;
  }

  Optional<ReferrersList> find(ReferrersKey key) {
    return database.withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement(
          "SELECT list, fetched_at FROM referrers WHERE upstream = ? AND repository = ? AND subject = ?")) {
        select.setString(1, key.upstream());
        select.setString(2, key.repository().value());
        select.setString(3, key.subject().toString());
        try (ResultSet rs = select.executeQuery()) {
          if (!rs.next()) {
            return Optional.empty();
          }
          return Optional.of(new ReferrersList(key, Digest.parse(rs.getString(1)), Instant.ofEpochMilli(rs.getLong(2))));
        }
      }
    });
  }

  void put(ReferrersList list) {
    database.inTransaction(connection -> {
      try (PreparedStatement upsert = connection.prepareStatement("""
          INSERT INTO referrers (upstream, repository, subject, list, fetched_at) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (upstream, repository, subject) DO UPDATE SET
            list = excluded.list, fetched_at = excluded.fetched_at""")) {
        upsert.setString(1, list.key().upstream());
        upsert.setString(2, list.key().repository().value());
        upsert.setString(3, list.key().subject().toString());
        upsert.setString(4, list.list().toString());
        upsert.setLong(5, list.fetchedAt().toEpochMilli());
        upsert.executeUpdate();
      }
      return null;
    });
  }
}
