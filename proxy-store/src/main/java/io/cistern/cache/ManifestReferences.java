package io.cistern.cache;

import io.cistern.oci.Descriptor;
import io.cistern.oci.Digest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.RegistryException;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * What a manifest refers to (its config, layers, child manifests): read from its bytes, recorded
 * as {@code manifest_children} rows, and walked down as a recursive query (the closure), through
 * the table's primary key. The rows of blobs ({@link BlobRows}) and the image graph
 * ({@link ImageGraph}) are both built on these.
 */
final class ManifestReferences {

  /** Every digest reachable from {@code root} through recorded references, {@code root} included. */
  static final String CLOSURE = """
      WITH RECURSIVE closure(digest) AS (
        VALUES (?)
        UNION
        SELECT c.child FROM manifest_children c JOIN closure ON c.manifest = closure.digest)
      """;

  private ManifestReferences() {}

  /** The digests a manifest refers to; none if it is not one. */
  static List<Digest> of(byte[] manifest) {
    List<Descriptor> descriptors;
    try {
      descriptors = ManifestDocument.parse(manifest).references();
    } catch (RegistryException notAManifest) {
      return List.of();
    }
    List<Digest> references = new ArrayList<>(descriptors.size());
    for (Descriptor descriptor : descriptors) {
      try {
        references.add(descriptor.parsedDigest());
      } catch (RegistryException badDigest) {
        // An upstream's malformed descriptor: nothing a pull could fetch by it either.
      }
    }
    return references;
  }

  /** Records what manifests refer to, {@link MetadataDatabase#WRITE_BATCH} manifests per transaction. */
  static void record(MetadataDatabase database, Map<Digest, List<Digest>> referencesByManifest) {
    List<Map.Entry<Digest, List<Digest>>> entries = new ArrayList<>(referencesByManifest.entrySet());
    for (int from = 0; from < entries.size(); from += MetadataDatabase.WRITE_BATCH) {
      List<Map.Entry<Digest, List<Digest>>> chunk =
          entries.subList(from, Math.min(entries.size(), from + MetadataDatabase.WRITE_BATCH));
      database.inTransaction(connection -> {
        for (Map.Entry<Digest, List<Digest>> entry : chunk) {
          record(connection, entry.getKey(), entry.getValue());
        }
        return null;
      });
    }
  }

  /** Records what {@code manifest} refers to, within the caller's transaction; idempotent. */
  static void record(Connection connection, Digest manifest, List<Digest> children) throws SQLException {
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

  /** Pins every stored row reachable from {@code root}, within the caller's transaction. */
  static void pinClosure(Connection connection, Digest root) throws SQLException {
    try (PreparedStatement update = connection.prepareStatement(CLOSURE
        + "UPDATE blobs SET pinned = 1 WHERE pinned = 0 AND digest IN (SELECT digest FROM closure)")) {
      update.setString(1, root.toString());
      update.executeUpdate();
    }
  }
}
