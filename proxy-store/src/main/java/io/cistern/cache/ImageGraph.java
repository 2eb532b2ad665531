package io.cistern.cache;

import io.cistern.oci.Digest;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Images as the database holds them: a manifest with everything it reaches through its recorded
 * references ({@link ManifestReferences}), sized, pinned ({@code pinned_images}, the names each
 * was pinned under in {@code pins}, and each row's {@code pinned}) and purged as one. A walk of an
 * image is a recursive query through the index by manifest (down) or by child (up), so it costs
 * what the image holds, not what the cache holds.
 */
final class ImageGraph {

  // The queries below are named so that a test can check their plans use the indexes.

  /** Every digest an image refers to, with its row when it is stored. */
  static final String IMAGE_ROWS = ManifestReferences.CLOSURE + """
      SELECT closure.digest, b.size, b.media_type, b.stored_at, b.last_access, b.pinned
      FROM closure LEFT JOIN blobs b ON b.digest = closure.digest""";

  /** Whether a digest is, or is referred to (however indirectly) by, an image pinned as such. */
  static final String PINNED_BY_AN_IMAGE = """
      WITH RECURSIVE up(digest) AS (
        VALUES (?)
        UNION
        SELECT c.manifest FROM manifest_children c JOIN up ON c.child = up.digest)
      SELECT EXISTS (SELECT 1 FROM up JOIN pinned_images p ON p.digest = up.digest)""";

  /** Whether a tag or a referrers list names a digest. */
  static final String NAMED = """
      SELECT EXISTS (SELECT 1 FROM tags WHERE digest = ?) OR EXISTS (SELECT 1 FROM referrers WHERE list = ?)""";

  /** The image pinned under a name. */
  static final String PINNED_UNDER = "SELECT digest FROM pins WHERE upstream = ? AND repository = ? AND reference = ?";

  /** Whether any name pins an image. */
  static final String NAMED_PIN = "SELECT EXISTS (SELECT 1 FROM pins WHERE digest = ?)";

  /** The stored manifests that refer to a digest. */
  static final String STORED_PARENTS =
      "SELECT c.manifest FROM manifest_children c JOIN blobs b ON b.digest = c.manifest WHERE c.child = ?";

  private final MetadataDatabase database;

  ImageGraph(MetadataDatabase database) {
    this.database = database;
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

    /** The root's row, or null when the root itself is not stored. */
    BlobRecord root(Digest root) {
      return stored.isEmpty() || !stored.get(0).digest().equals(root) ? null : stored.get(0);
    }
  }

  /** What an image holds: the stored rows reachable from {@code root}, and how many referenced digests are not stored. */
  ImageRows rows(Digest root) {
    return database.withConnection(connection -> rows(connection, root));
  }

  private static ImageRows rows(Connection connection, Digest root) throws SQLException {
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
          BlobRecord record = BlobRows.read(Digest.parse(rs.getString(1)), rs, 2);
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
   * Pins an image under {@code name}: it is recorded as pinned, and it and everything it refers to
   * are never evicted. A name pinned before to another image (a tag that moved since) now pins
   * this one; the other stays pinned only if another name pins it.
   */
  ImageRows pin(PinName name, Digest root, long now) {
    return database.inTransaction(connection -> {
      Digest before = pinnedUnder(connection, name);
      try (PreparedStatement insert = connection.prepareStatement("""
          INSERT INTO pins (upstream, repository, reference, digest, pinned_at) VALUES (?, ?, ?, ?, ?)
          ON CONFLICT (upstream, repository, reference) DO UPDATE SET
            digest = excluded.digest, pinned_at = excluded.pinned_at, legacy = 0
          WHERE pins.digest <> excluded.digest OR pins.legacy = 1""")) {
        setName(insert, name);
        insert.setString(4, root.toString());
        insert.setLong(5, now);
        insert.executeUpdate();
      }
      try (PreparedStatement insert = connection.prepareStatement(
          "INSERT OR IGNORE INTO pinned_images (digest, pinned_at) VALUES (?, ?)")) {
        insert.setString(1, root.toString());
        insert.setLong(2, now);
        insert.executeUpdate();
      }
      ManifestReferences.pinClosure(connection, root);
      if (before != null && !before.equals(root)) {
        releaseUnlessNamed(connection, before);
      }
      return rows(connection, root);
    });
  }

  /**
   * Removes the pin made under {@code name}; the image it pinned stays pinned only if another name
   * pins it.
   *
   * @return the image pinned under the name, whatever the name (a tag) points at now; null when
   *     nothing is pinned under it
   */
  Digest unpin(PinName name) {
    return database.inTransaction(connection -> {
      Digest pinned = pinnedUnder(connection, name);
      if (pinned == null) {
        return null;
      }
      // The names an upgrade gave a pin made before names were recorded (SchemaMigrations) are
      // guesses, every tag naming the image then: unpinning one of them unpins the image, as
      // unpinning any of its tags did before.
      try (PreparedStatement delete = connection.prepareStatement("""
          DELETE FROM pins WHERE digest = ? AND legacy = 1 AND EXISTS (SELECT 1 FROM pins
            WHERE upstream = ? AND repository = ? AND reference = ? AND legacy = 1)""")) {
        delete.setString(1, pinned.toString());
        delete.setString(2, name.upstream());
        delete.setString(3, name.repository().value());
        delete.setString(4, name.reference().toString());
        delete.executeUpdate();
      }
      try (PreparedStatement delete = connection.prepareStatement(
          "DELETE FROM pins WHERE upstream = ? AND repository = ? AND reference = ?")) {
        setName(delete, name);
        delete.executeUpdate();
      }
      releaseUnlessNamed(connection, pinned);
      return pinned;
    });
  }

  /**
   * Unpins an image, whatever names it was pinned under: what it refers to stays pinned only where
   * another pinned image refers to it too (two tags of one base image share its layers).
   *
   * @return the image's rows, as they are after the change; null when nothing pinned it
   */
  ImageRows unpin(Digest root) {
    return database.inTransaction(connection -> {
      int names;
      try (PreparedStatement delete = connection.prepareStatement("DELETE FROM pins WHERE digest = ?")) {
        delete.setString(1, root.toString());
        names = delete.executeUpdate();
      }
      boolean recordedPinned = release(connection, root);
      return recordedPinned || names > 0 ? rows(connection, root) : null;
    });
  }

  private static Digest pinnedUnder(Connection connection, PinName name) throws SQLException {
    try (PreparedStatement select = connection.prepareStatement(PINNED_UNDER)) {
      setName(select, name);
      try (ResultSet rs = select.executeQuery()) {
        return rs.next() ? Digest.parse(rs.getString(1)) : null;
      }
    }
  }

  private static void setName(PreparedStatement statement, PinName name) throws SQLException {
    statement.setString(1, name.upstream());
    statement.setString(2, name.repository().value());
    statement.setString(3, name.reference().toString());
  }

  private static void releaseUnlessNamed(Connection connection, Digest root) throws SQLException {
    try (PreparedStatement named = connection.prepareStatement(NAMED_PIN)) {
      named.setString(1, root.toString());
      try (ResultSet rs = named.executeQuery()) {
        if (rs.next() && rs.getBoolean(1)) {
          return;
        }
      }
    }
    release(connection, root);
  }

  /**
   * Records {@code root} as no longer pinned as an image, and unpins what no other pinned image needs.
   *
   * @return whether {@code root} was recorded as pinned
   */
  private static boolean release(Connection connection, Digest root) throws SQLException {
    boolean wasPinned;
    try (PreparedStatement delete = connection.prepareStatement("DELETE FROM pinned_images WHERE digest = ?")) {
      delete.setString(1, root.toString());
      wasPinned = delete.executeUpdate() > 0;
    }
    ImageRows rows = rows(connection, root);
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
    return wasPinned;
  }

  /** Whether {@code root} was pinned as an image (not merely as part of one). */
  boolean isPinnedImage(Digest root) {
    return database.withConnection(connection -> {
      try (PreparedStatement select = connection.prepareStatement("SELECT 1 FROM pinned_images WHERE digest = ?")) {
        select.setString(1, root.toString());
        try (ResultSet rs = select.executeQuery()) {
          return rs.next();
        }
      }
    });
  }

  /**
   * Deletes the rows of an image: {@code root} and whatever it refers to that nothing else still
   * needs. Kept are content another stored manifest refers to, content a tag or referrers list
   * names, and pinned content. What names what goes is deleted with it ({@link BlobRows#deleteRows}).
   *
   * @return the deleted rows (the files to unlink and bytes to free), or null when {@code root} is
   *     a pinned image and nothing was deleted
   */
  List<BlobRecord> delete(Digest root) {
    return database.inTransaction(connection -> {
      ImageRows rows = rows(connection, root);
      BlobRecord rootRow = rows.root(root);
      if (rootRow == null) {
        return List.of();
      }
      if (rootRow.pinned()) {
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
      BlobRows.deleteRows(connection, doomed.keySet());
      return new ArrayList<>(doomed.values());
    });
  }

  private static boolean stillNeeded(Connection connection, BlobRecord record, Set<Digest> doomed) throws SQLException {
    if (record.pinned()) {
      return true;
    }
    try (PreparedStatement named = connection.prepareStatement(NAMED)) {
      named.setString(1, record.digest().toString());
      named.setString(2, record.digest().toString());
      try (ResultSet rs = named.executeQuery()) {
        if (rs.next() && rs.getBoolean(1)) {
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
}
