package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.imageManifest;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The schema 1 → 2 upgrade, and that the operators' queries go through indexes. */
class MetadataSchemaTest {

  @TempDir
  Path temp;

  @Test
  void aSchema1CacheIsUpgradedAndItsManifestsGetTheirReferences() throws Exception {
    Path directory = temp.resolve("cache");
    Random random = new Random(3);
    List<byte[]> blobs = List.of(content(random, 100), content(random, 200), content(random, 300));
    Manifest manifest = imageManifest(blobs);
    writeSchema1Cache(directory, manifest, blobs);

    try (BlobCache cache = BlobCache.open(settings(directory, 1L << 30, 0.9, Duration.ofMinutes(1)), Clock.systemUTC())) {
      assertEquals(2, userVersion(cache));
      assertFalse(cache.metadata().referencesToRecord());
      ImageContent pinned = cache.pinImage(manifest.digest());
      assertEquals(4, pinned.blobs(), "the references recorded by the upgrade let the pin reach every blob");
      assertEquals(0, pinned.missing());
    }
    try (BlobCache reopened = BlobCache.open(settings(directory, 1L << 30, 0.9, Duration.ofMinutes(1)), Clock.systemUTC())) {
      assertEquals(2, userVersion(reopened), "the upgrade runs once");
      assertTrue(reopened.isPinnedImage(manifest.digest()));
    }
  }

  @Test
  void recoveryAdoptsAManifestFileThatLostItsRowWithItsMediaTypeAndReferences() throws Exception {
    Path directory = temp.resolve("crashed");
    byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(java.nio.charset.StandardCharsets.UTF_8);
    List<byte[]> blobs = List.of(config, content(new Random(4), 200));
    Manifest manifest = imageManifest(blobs);
    try (BlobCache cache = BlobCache.open(settings(directory, 1L << 30, 0.9, Duration.ofMinutes(1)), Clock.systemUTC())) {
      cache.storeManifest(manifest);
    }
    // A crash after the files were published but before their rows were written.
    DiskTier store = DiskTier.standalone(directory.resolve("blobs"));
    for (byte[] blob : blobs) {
      store.write(Digest.sha256Of(blob), blob);
    }
    Files.delete(directory.resolve(BlobCache.CLEAN_STOP_MARKER));
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + directory.resolve(BlobCache.DATABASE_FILE));
         Statement statement = connection.createStatement()) {
      statement.executeUpdate("DELETE FROM blobs");
      statement.executeUpdate("DELETE FROM manifest_children");
    }

    try (BlobCache cache = BlobCache.open(settings(directory, 1L << 30, 0.9, Duration.ofMinutes(1)), Clock.systemUTC())) {
      assertEquals(manifest.mediaType(), cache.metadata().findBlob(manifest.digest()).orElseThrow().mediaType());
      assertEquals(null, cache.metadata().findBlob(Digest.sha256Of(blobs.get(0))).orElseThrow().mediaType(),
          "a JSON config is adopted as a plain blob");
      assertEquals(new ImageContent(3, manifest.bytes().length + config.length + 200, 0), cache.imageContent(manifest.digest()),
          "the adopted manifest still reaches its blobs");
    }
  }

  /** What Cistern's schema 1 wrote: the three tables and their indexes, rows for a manifest and its blobs. */
  private static void writeSchema1Cache(Path directory, Manifest manifest, List<byte[]> blobs) throws Exception {
    DiskTier store = DiskTier.standalone(directory.resolve("blobs"));
    for (byte[] blob : blobs) {
      store.write(Digest.sha256Of(blob), blob);
    }
    store.write(manifest.digest(), manifest.bytes());
    try (Connection connection = DriverManager.getConnection("jdbc:sqlite:" + directory.resolve(BlobCache.DATABASE_FILE));
         Statement statement = connection.createStatement()) {
      statement.executeUpdate("""
          CREATE TABLE blobs (digest TEXT PRIMARY KEY, size INTEGER NOT NULL, media_type TEXT,
            stored_at INTEGER NOT NULL, last_access INTEGER NOT NULL, pinned INTEGER NOT NULL DEFAULT 0) WITHOUT ROWID""");
      statement.executeUpdate("CREATE INDEX blobs_by_access ON blobs (pinned, last_access, digest)");
      statement.executeUpdate("""
          CREATE TABLE tags (upstream TEXT NOT NULL, repository TEXT NOT NULL, tag TEXT NOT NULL, digest TEXT NOT NULL,
            resolved_at INTEGER NOT NULL, PRIMARY KEY (upstream, repository, tag)) WITHOUT ROWID""");
      statement.executeUpdate("CREATE INDEX tags_by_digest ON tags (digest)");
      statement.executeUpdate("""
          CREATE TABLE repository_manifests (upstream TEXT NOT NULL, repository TEXT NOT NULL, digest TEXT NOT NULL,
            PRIMARY KEY (upstream, repository, digest)) WITHOUT ROWID""");
      statement.executeUpdate("CREATE INDEX repository_manifests_by_digest ON repository_manifests (digest)");
      statement.executeUpdate("PRAGMA user_version = 1");
      try (PreparedStatement insert = connection.prepareStatement(
          "INSERT INTO blobs (digest, size, media_type, stored_at, last_access) VALUES (?, ?, ?, 1, 1)")) {
        for (byte[] blob : blobs) {
          insert.setString(1, Digest.sha256Of(blob).toString());
          insert.setLong(2, blob.length);
          insert.setString(3, null);
          insert.executeUpdate();
        }
        insert.setString(1, manifest.digest().toString());
        insert.setLong(2, manifest.bytes().length);
        insert.setString(3, manifest.mediaType());
        insert.executeUpdate();
      }
    }
    Files.writeString(directory.resolve(BlobCache.CLEAN_STOP_MARKER), "clean\n");
  }

  @Test
  void theQueriesOfPinsPurgesAndListingsUseIndexesNotTableScans() throws Exception {
    Map<String, String> queries = Map.of(
        "image rows", MetadataStore.IMAGE_ROWS,
        "pinned by an image", MetadataStore.PINNED_BY_AN_IMAGE,
        "tagged", MetadataStore.TAGGED,
        "stored parents", MetadataStore.STORED_PARENTS,
        "unpinned older than", MetadataStore.UNPINNED_OLDER_THAN,
        "insert with an inherited pin", MetadataStore.INSERT_BLOB,
        "rows in digest order (verify, scrub)", MetadataStore.BLOBS_AFTER,
        "upstreams holding a digest", MetadataStore.UPSTREAMS_HOLDING);
    // A table scan reads as "SCAN blobs"; scans of the recursive queues (closure, up) are the
    // queues themselves, proportional to one image.
    Pattern tableScan = Pattern.compile("SCAN (blobs|tags|manifest_children|pinned_images|repository_manifests)\\b");
    try (BlobCache cache = BlobCache.open(settings(temp.resolve("plans"), 1L << 30, 0.9, Duration.ofMinutes(1)), Clock.systemUTC())) {
      for (Map.Entry<String, String> query : queries.entrySet()) {
        List<String> plan = plan(cache, query.getValue());
        assertFalse(plan.isEmpty());
        for (String step : plan) {
          assertFalse(tableScan.matcher(step).find(), query.getKey() + " scans a table: " + plan);
        }
      }
    }
  }

  private static List<String> plan(BlobCache cache, String sql) {
    return cache.metadata().withConnection(connection -> {
      List<String> steps = new ArrayList<>();
      try (PreparedStatement explain = connection.prepareStatement("EXPLAIN QUERY PLAN " + sql)) {
        int parameters = explain.getParameterMetaData().getParameterCount();
        for (int i = 1; i <= parameters; i++) {
          explain.setString(i, "x");
        }
        try (ResultSet rs = explain.executeQuery()) {
          while (rs.next()) {
            steps.add(rs.getString("detail"));
          }
        }
      }
      return steps;
    });
  }

  private static int userVersion(BlobCache cache) {
    return cache.metadata().withConnection(connection -> {
      try (Statement statement = connection.createStatement(); ResultSet rs = statement.executeQuery("PRAGMA user_version")) {
        rs.next();
        return rs.getInt(1);
      }
    });
  }
}
