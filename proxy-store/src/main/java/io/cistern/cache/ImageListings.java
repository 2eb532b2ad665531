package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * What operators are shown of the images the cache holds, read from tags, repository links and
 * the image graph: the images of a repository (or of all), the repositories holding the most
 * bytes, what is pinned, and which upstreams hold a digest. Read-only; referrers lists are no
 * images and never appear.
 */
final class ImageListings {

  /** The upstreams whose repositories hold a digest, or a manifest that refers to it however indirectly. */
  static final String UPSTREAMS_HOLDING = """
      WITH RECURSIVE up(digest) AS (
        VALUES (?)
        UNION
        SELECT c.manifest FROM manifest_children c JOIN up ON c.child = up.digest)
      SELECT DISTINCT r.upstream FROM up JOIN repository_manifests r ON r.digest = up.digest""";

  private final MetadataDatabase database;

  ImageListings(MetadataDatabase database) {
    this.database = database;
  }

  /** A tag, or an untagged manifest (tag null), of a repository. */
  record ImageEntry(String upstream, RepositoryName repository, String tag, Digest digest) {}

  /**
   * Cached images in (upstream, repository, tag) order: every tag, and every manifest a repository
   * holds untagged that is not part of another (pulled by digest), after {@code tag} order;
   * through the tags' and repository links' primary keys.
   *
   * @param upstream only this upstream's, or null for all
   * @param repository only this repository's (with {@code upstream}), or null for all
   */
  List<ImageEntry> images(String upstream, RepositoryName repository, int limit) {
    return database.withConnection(connection -> {
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

  /**
   * The repositories holding the most bytes: what their tags and pulled manifests refer to, shared
   * content counted once per repository. An aggregate over every repository link, for the status
   * page; callers should not run it per request.
   */
  List<RepositoryUsage> topRepositories(int limit) {
    return database.withConnection(connection -> {
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
    return database.withConnection(connection -> {
      try (Statement statement = connection.createStatement();
           ResultSet rs = statement.executeQuery("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM blobs WHERE pinned = 1")) {
        rs.next();
        return new long[] {rs.getLong(1), rs.getLong(2)};
      }
    });
  }

  Set<String> upstreamsHolding(Digest digest) {
    return database.withConnection(connection -> {
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
}
