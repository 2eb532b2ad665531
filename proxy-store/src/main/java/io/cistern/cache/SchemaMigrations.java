package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Function;

/**
 * Creates the metadata tables, and upgrades those an older Cistern made, keeping what they hold.
 * The version is SQLite's {@code user_version}; each step is idempotent, so an upgrade that
 * stopped half-way (a crash) runs again.
 *
 * <ol>
 *   <li>blobs, tags, repository links;
 *   <li>which blobs each manifest refers to (for pinning, purging and sizing whole images) and
 *       the images an operator pinned;
 *   <li>referrers lists in a table of their own. Before, a list was a tag row of a made-up
 *       upstream, {@code "referrers <host>"}, with the subject's fallback tag ({@code sha256-<hex>})
 *       as its tag, so that listings showed it as an image;
 *   <li>the names images were pinned under ({@code pins}), so that unpinning a tag finds the image
 *       pinned under it after the tag moved. An image pinned before is recorded under the tags
 *       that name it now, else under its digest in each repository holding it.
 * </ol>
 */
final class SchemaMigrations {

  static final int VERSION = 4;

  /** The upstream name under which schema 2 kept referrers lists, {@code "referrers <host>"}. */
  private static final String REFERRERS_UPSTREAM = "substr(upstream, 1, 10) = 'referrers '";

  /**
   * What opening found.
   *
   * @param created this open created the schema: there was no database, or an empty one
   * @param referencesToRecord opened at schema 1: the manifests stored then have no references
   *     recorded yet (see {@link #recordOlderReferences})
   */
  record Outcome(boolean created, boolean referencesToRecord) {}

  private SchemaMigrations() {}

  /**
   * Brings the schema to {@link #VERSION}, except for the references of manifests stored under
   * schema 1: they live in the blob files, not here, so the version stays 1 until
   * {@link #recordOlderReferences} has read them.
   *
   * @throws IllegalStateException when the database is from a newer Cistern
   */
  static Outcome migrate(MetadataDatabase database) {
    return database.inTransaction(connection -> {
      try (Statement statement = connection.createStatement()) {
        int version;
        try (ResultSet rs = statement.executeQuery("PRAGMA user_version")) {
          version = rs.next() ? rs.getInt(1) : 0;
        }
        if (version > VERSION) {
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
        if (version < 3) {
          statement.executeUpdate("""
              CREATE TABLE IF NOT EXISTS referrers (
                upstream TEXT NOT NULL,
                repository TEXT NOT NULL,
                subject TEXT NOT NULL,
                list TEXT NOT NULL,
                fetched_at INTEGER NOT NULL,
                PRIMARY KEY (upstream, repository, subject)
              ) WITHOUT ROWID""");
          statement.executeUpdate("CREATE INDEX IF NOT EXISTS referrers_by_list ON referrers (list)");
          // A sha256 subject's fallback tag holds its whole hex; a sha512 one's only the first 64
          // of its 128 digits, so its subject cannot be known again: that row is dropped, and the
          // next request for its list asks the upstream, as after the list's TTL.
          statement.executeUpdate("""
              INSERT OR IGNORE INTO referrers (upstream, repository, subject, list, fetched_at)
              SELECT substr(upstream, 11), repository, 'sha256:' || substr(tag, 8), digest, resolved_at FROM tags
              WHERE %s AND tag GLOB 'sha256-*' AND length(tag) = 71""".formatted(REFERRERS_UPSTREAM));
          statement.executeUpdate("DELETE FROM tags WHERE " + REFERRERS_UPSTREAM);
          statement.executeUpdate("DELETE FROM repository_manifests WHERE " + REFERRERS_UPSTREAM);
        }
        if (version < 4) {
          statement.executeUpdate("""
              CREATE TABLE IF NOT EXISTS pins (
                upstream TEXT NOT NULL,
                repository TEXT NOT NULL,
                reference TEXT NOT NULL,
                digest TEXT NOT NULL,
                pinned_at INTEGER NOT NULL,
                legacy INTEGER NOT NULL DEFAULT 0,
                PRIMARY KEY (upstream, repository, reference)
              ) WITHOUT ROWID""");
          statement.executeUpdate("CREATE INDEX IF NOT EXISTS pins_by_digest ON pins (digest)");
          // The name an older pin was made under is not known: the tags naming the image now are
          // what unpinning a tag found before. They are marked legacy, so unpinning any one of
          // them still unpins the image (ImageGraph.unpin), as before.
          statement.executeUpdate("""
              INSERT OR IGNORE INTO pins (upstream, repository, reference, digest, pinned_at, legacy)
              SELECT t.upstream, t.repository, t.tag, p.digest, p.pinned_at, 1
              FROM pinned_images p JOIN tags t ON t.digest = p.digest""");
          statement.executeUpdate("""
              INSERT OR IGNORE INTO pins (upstream, repository, reference, digest, pinned_at, legacy)
              SELECT r.upstream, r.repository, r.digest, p.digest, p.pinned_at, 1
              FROM pinned_images p JOIN repository_manifests r ON r.digest = p.digest
              WHERE NOT EXISTS (SELECT 1 FROM pins WHERE pins.digest = p.digest)""");
        }
        boolean created = version == 0;
        boolean referencesToRecord = version == 1;
        // Version 1 stays recorded until the references of its manifests are in: a crash half-way
        // must leave that upgrade to be done again.
        statement.executeUpdate("PRAGMA user_version = " + (referencesToRecord ? 1 : VERSION));
        return new Outcome(created, referencesToRecord);
      }
    });
  }

  /**
   * The upgrade from schema 1, finished: records what each manifest stored then refers to, read
   * from its file, then records the current version. A crash half-way runs it again (the inserts
   * are idempotent).
   *
   * @param files where a stored blob's file is
   */
  static void recordOlderReferences(MetadataDatabase database, Function<Digest, Path> files)
      throws IOException {
    Map<Digest, List<Digest>> references = new LinkedHashMap<>();
    for (Digest manifest : manifestsToRecord(database)) {
      try {
        references.put(manifest, ManifestReferences.of(Files.readAllBytes(files.apply(manifest))));
      } catch (NoSuchFileException gone) {
        // Its row goes at the next recovery; nothing to record.
      }
    }
    ManifestReferences.record(database, references);
    database.inTransaction(connection -> {
      try (Statement statement = connection.createStatement()) {
        statement.executeUpdate("PRAGMA user_version = " + VERSION);
      }
      return null;
    });
  }

  /** The manifests stored before schema 2 (a one-time upgrade walk, hence no index). */
  private static List<Digest> manifestsToRecord(MetadataDatabase database) {
    return database.withConnection(connection -> {
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
}
