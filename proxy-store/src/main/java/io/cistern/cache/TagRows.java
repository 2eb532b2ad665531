package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Tag mappings per upstream and repository, and which manifests each repository holds (its
 * links: a manifest pulled by tag or by digest). Lookups go through the primary keys; the
 * indexes by digest serve what is deleted with a manifest.
 */
final class TagRows {

  private final MetadataDatabase database;

  TagRows(MetadataDatabase database) {
    this.database = database;
  }

  Optional<TagMapping> find(TagKey key) {
    return database.withConnection(connection -> find(connection, key));
  }

  private static Optional<TagMapping> find(Connection connection, TagKey key) throws SQLException {
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
  void put(TagMapping mapping) {
    database.inTransaction(connection -> {
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
  void link(String upstream, RepositoryName repository, Digest digest) {
    database.inTransaction(connection -> {
      link(connection, upstream, repository, digest);
      return null;
    });
  }

  private static void link(Connection connection, String upstream, RepositoryName repository, Digest digest)
      throws SQLException {
    try (PreparedStatement insert = connection.prepareStatement(
        "INSERT OR IGNORE INTO repository_manifests (upstream, repository, digest) VALUES (?, ?, ?)")) {
      insert.setString(1, upstream);
      insert.setString(2, repository.value());
      insert.setString(3, digest.toString());
      insert.executeUpdate();
    }
  }

  /** The cached tags of a repository, sorted. */
  List<String> tagsOf(String upstream, RepositoryName repository) {
    return database.withConnection(connection -> {
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

  /**
   * Deletes a tag, and its repository's link to the manifest unless another tag of that
   * repository still points at it.
   *
   * @return the manifest the tag pointed at, and whether anything (a tag, a repository link or a
   *     referrers list anywhere) still refers to it; empty when there was no such tag
   */
  Optional<UntaggedManifest> delete(TagKey key) {
    return database.inTransaction(connection -> {
      Optional<TagMapping> mapping = find(connection, key);
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
              OR EXISTS (SELECT 1 FROM repository_manifests WHERE digest = ?)
              OR EXISTS (SELECT 1 FROM referrers WHERE list = ?)""")) {
        select.setString(1, digest);
        select.setString(2, digest);
        select.setString(3, digest);
        try (ResultSet rs = select.executeQuery()) {
          referenced = rs.next() && rs.getBoolean(1);
        }
      }
      return Optional.of(new UntaggedManifest(mapping.get().digest(), referenced));
    });
  }

  /** What {@link #delete} left: the manifest, and whether a tag, repository or referrers list still refers to it. */
  record UntaggedManifest(Digest digest, boolean stillReferenced) {}

  private static void bindKey(PreparedStatement statement, TagKey key) throws SQLException {
    statement.setString(1, key.upstream());
    statement.setString(2, key.repository().value());
    statement.setString(3, key.tag().value());
  }
}
