package io.cistern.cache;

import static io.cistern.cache.CacheFixtures.content;
import static io.cistern.cache.CacheFixtures.imageManifest;
import static io.cistern.cache.CacheFixtures.settings;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ReferrersIndex;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The schema upgrades (1 → 4, 2 → 4, 3 → 4), and that the operators' queries go through indexes. */
class MetadataSchemaTest {

  private static final String UPSTREAM = "upstream.test";
  private static final RepositoryName REPOSITORY = RepositoryName.of("team/app");

  @TempDir
  Path temp;

  private static CacheDirectory open(Path directory) {
    return CacheDirectory.open(settings(directory, 1L << 30, 0.9, Duration.ofMinutes(1)), Clock.systemUTC());
  }

  @Test
  void aSchema1CacheIsUpgradedAndItsManifestsGetTheirReferences() throws Exception {
    Path directory = temp.resolve("cache");
    Random random = new Random(3);
    List<byte[]> blobs = List.of(content(random, 100), content(random, 200), content(random, 300));
    Manifest manifest = imageManifest(blobs);
    writeSchema1Cache(directory, manifest, blobs);

    try (CacheDirectory opened = open(directory)) {
      assertEquals(SchemaMigrations.VERSION, SqliteClient.userVersion(directory));
      assertEquals(3, SqliteClient.single(directory,
          "SELECT COUNT(*) FROM manifest_children WHERE manifest = '" + manifest.digest() + "'"),
          "the upgrade read what the manifest refers to from its file");
      ImageContent pinned = opened.catalog().pinImage(TestPins.byDigest(manifest.digest()), manifest.digest());
      assertEquals(4, pinned.blobs(), "the references recorded by the upgrade let the pin reach every blob");
      assertEquals(0, pinned.missing());
    }
    try (CacheDirectory reopened = open(directory)) {
      assertEquals(SchemaMigrations.VERSION, SqliteClient.userVersion(directory), "the upgrade runs once");
      assertTrue(reopened.catalog().isPinnedImage(manifest.digest()));
    }
  }

  @Test
  void aSchema2CacheHasItsReferrersListsMovedOutOfItsTagsAndListingsKeepingWhenTheyWereFetched() throws Exception {
    Path directory = temp.resolve("schema2");
    Random random = new Random(5);
    List<byte[]> blobs = List.of(content(random, 100), content(random, 200));
    Manifest image = imageManifest(blobs);
    Manifest list = ReferrersIndex.EMPTY.toManifest();
    Digest subject = image.digest();
    Digest sha512Subject = Digest.of(Digest.Algorithm.SHA512, "a sha512 subject".getBytes(StandardCharsets.UTF_8));
    Instant fetched = Instant.ofEpochMilli(1_700_000_000_000L);
    writeSchema1Cache(directory, image, blobs);
    DiskTier.standalone(directory.resolve("blobs")).write(list.digest(), list.bytes());
    try (Connection connection = connect(directory); Statement statement = connection.createStatement()) {
      // What schema 2 added, and what it held after one pull by tag and two referrers requests.
      statement.executeUpdate("""
          CREATE TABLE manifest_children (manifest TEXT NOT NULL, child TEXT NOT NULL,
            PRIMARY KEY (manifest, child)) WITHOUT ROWID""");
      statement.executeUpdate("CREATE INDEX manifest_children_by_child ON manifest_children (child)");
      statement.executeUpdate("CREATE TABLE pinned_images (digest TEXT PRIMARY KEY, pinned_at INTEGER NOT NULL) WITHOUT ROWID");
      statement.executeUpdate("PRAGMA user_version = 2");
      insertBlob(connection, list.digest(), list.bytes().length, list.mediaType());
      for (byte[] blob : blobs) {
        insertChild(connection, image.digest(), Digest.sha256Of(blob));
      }
      insertTag(connection, UPSTREAM, "1.0", image.digest(), fetched);
      for (Digest listed : List.of(subject, sha512Subject)) {
        insertTag(connection, "referrers " + UPSTREAM, listed.referrersTag(), list.digest(), fetched);
      }
    }

    try (CacheDirectory opened = open(directory)) {
      assertEquals(SchemaMigrations.VERSION, SqliteClient.userVersion(directory));
      assertEquals(Optional.of(new ReferrersList(new ReferrersKey(UPSTREAM, REPOSITORY, subject), list.digest(), fetched)),
          opened.referrers().find(new ReferrersKey(UPSTREAM, REPOSITORY, subject)), "moved, with when it was fetched");
      assertEquals(Optional.empty(), opened.referrers().find(new ReferrersKey(UPSTREAM, REPOSITORY, sha512Subject)),
          "a sha512 subject's fallback tag holds half its digest: its list is fetched again");
      assertEquals(List.of(new CachedImage(UPSTREAM, REPOSITORY, "1.0", image.digest(), image.mediaType(),
              image.bytes().length + 300, 3, 0, Instant.ofEpochMilli(1), false)),
          opened.catalog().images(null, null, 100), "the image alone is listed, no referrers list");
      assertEquals(List.of(), opened.tags().tagsOf("referrers " + UPSTREAM, REPOSITORY), "no tag of the made-up upstream is left");
      assertEquals(List.of(UPSTREAM), opened.catalog().topRepositories(10).stream().map(RepositoryUsage::upstream).toList());
      assertTrue(opened.blobs().contains(list.digest()), "the list's document stays stored");
    }
    try (CacheDirectory reopened = open(directory)) {
      assertEquals(SchemaMigrations.VERSION, SqliteClient.userVersion(directory), "the upgrade runs once");
      assertEquals(list.digest(), reopened.referrers().find(new ReferrersKey(UPSTREAM, REPOSITORY, subject))
          .orElseThrow().list());
    }
  }

  @Test
  void aSchema3CacheNamesItsPinsAfterTheTagsThatNameThemElseTheirDigestsAndOneOfThoseNamesUnpinsIt() throws Exception {
    Path directory = temp.resolve("schema3");
    Random random = new Random(6);
    Manifest tagged;
    Manifest untagged;
    try (CacheDirectory opened = open(directory)) {
      tagged = CacheFixtures.storeImage(opened.blobs(), List.of(content(random, 100), content(random, 200)));
      untagged = CacheFixtures.storeImage(opened.blobs(), List.of(content(random, 300), content(random, 400)));
    }
    PinName tag = new PinName(UPSTREAM, REPOSITORY, new Tag("1.0"));
    PinName digest = new PinName(UPSTREAM, REPOSITORY, untagged.digest());
    // What schema 3 held after one image was pinned by tag and one by digest: no names.
    try (Connection connection = connect(directory); Statement statement = connection.createStatement()) {
      statement.executeUpdate("DROP TABLE pins");
      statement.executeUpdate("PRAGMA user_version = 3");
      insertTag(connection, UPSTREAM, "1.0", tagged.digest(), Instant.ofEpochMilli(1));
      insertTag(connection, UPSTREAM, "latest", tagged.digest(), Instant.ofEpochMilli(1));
      statement.executeUpdate("INSERT INTO repository_manifests VALUES ('%s', '%s', '%s')"
          .formatted(UPSTREAM, REPOSITORY, untagged.digest()));
      for (Manifest manifest : List.of(tagged, untagged)) {
        statement.executeUpdate("INSERT INTO pinned_images VALUES ('%s', 1)".formatted(manifest.digest()));
      }
    }

    try (CacheDirectory opened = open(directory)) {
      assertEquals(SchemaMigrations.VERSION, SqliteClient.userVersion(directory));
      assertEquals(Optional.of(tagged.digest()), opened.catalog().unpinName(tag), "pinned under the tags naming it");
      assertEquals(Optional.empty(), opened.catalog().unpinName(new PinName(UPSTREAM, REPOSITORY, new Tag("latest"))),
          "unpinning one of the names an upgrade guessed unpins the image, as unpinning either tag did before");
      assertEquals(Optional.of(untagged.digest()), opened.catalog().unpinName(digest),
          "pinned under its digest in the repository holding it");
      assertFalse(opened.catalog().isPinnedImage(tagged.digest()));
      assertFalse(opened.catalog().isPinnedImage(untagged.digest()));
    }
  }

  @Test
  void recoveryAdoptsAManifestFileThatLostItsRowWithItsMediaTypeAndReferences() throws Exception {
    Path directory = temp.resolve("crashed");
    byte[] config = "{\"architecture\":\"amd64\",\"os\":\"linux\"}".getBytes(StandardCharsets.UTF_8);
    List<byte[]> blobs = List.of(config, content(new Random(4), 200));
    Manifest manifest = imageManifest(blobs);
    try (CacheDirectory opened = open(directory)) {
      opened.blobs().storeManifest(manifest);
    }
    // A crash after the files were published but before their rows were written.
    DiskTier store = DiskTier.standalone(directory.resolve("blobs"));
    for (byte[] blob : blobs) {
      store.write(Digest.sha256Of(blob), blob);
    }
    Files.delete(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER));
    try (Connection connection = connect(directory); Statement statement = connection.createStatement()) {
      statement.executeUpdate("DELETE FROM blobs");
      statement.executeUpdate("DELETE FROM manifest_children");
    }

    try (CacheDirectory opened = open(directory)) {
      assertEquals(manifest.mediaType(), SqliteClient.blob(directory, manifest.digest()).orElseThrow().mediaType());
      assertEquals(null, SqliteClient.blob(directory, Digest.sha256Of(blobs.get(0))).orElseThrow().mediaType(),
          "a JSON config is adopted as a plain blob");
      assertEquals(new ImageContent(3, manifest.bytes().length + config.length + 200, 0),
          opened.catalog().imageContent(manifest.digest()), "the adopted manifest still reaches its blobs");
    }
  }

  /** What Cistern's schema 1 wrote: the three tables and their indexes, rows for a manifest and its blobs (read at 1). */
  private static void writeSchema1Cache(Path directory, Manifest manifest, List<byte[]> blobs) throws Exception {
    DiskTier store = DiskTier.standalone(directory.resolve("blobs"));
    for (byte[] blob : blobs) {
      store.write(Digest.sha256Of(blob), blob);
    }
    store.write(manifest.digest(), manifest.bytes());
    try (Connection connection = connect(directory); Statement statement = connection.createStatement()) {
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
      for (byte[] blob : blobs) {
        insertBlob(connection, Digest.sha256Of(blob), blob.length, null);
      }
      insertBlob(connection, manifest.digest(), manifest.bytes().length, manifest.mediaType());
    }
    Files.writeString(directory.resolve(CacheDirectory.CLEAN_STOP_MARKER), "clean\n");
  }

  private static Connection connect(Path directory) throws Exception {
    return DriverManager.getConnection("jdbc:sqlite:" + directory.resolve(CacheDirectory.DATABASE_FILE));
  }

  private static void insertBlob(Connection connection, Digest digest, long size, String mediaType) throws Exception {
    try (PreparedStatement insert = connection.prepareStatement(
        "INSERT INTO blobs (digest, size, media_type, stored_at, last_access) VALUES (?, ?, ?, 1, 1)")) {
      insert.setString(1, digest.toString());
      insert.setLong(2, size);
      insert.setString(3, mediaType);
      insert.executeUpdate();
    }
  }

  private static void insertChild(Connection connection, Digest manifest, Digest child) throws Exception {
    try (PreparedStatement insert = connection.prepareStatement("INSERT INTO manifest_children (manifest, child) VALUES (?, ?)")) {
      insert.setString(1, manifest.toString());
      insert.setString(2, child.toString());
      insert.executeUpdate();
    }
  }

  /** A tag of {@link #REPOSITORY}, with the link to its manifest, as schema 1 and 2 put them. */
  private static void insertTag(Connection connection, String upstream, String tag, Digest digest, Instant resolved)
      throws Exception {
    try (PreparedStatement insert = connection.prepareStatement(
             "INSERT INTO tags (upstream, repository, tag, digest, resolved_at) VALUES (?, ?, ?, ?, ?)");
         PreparedStatement link = connection.prepareStatement(
             "INSERT OR IGNORE INTO repository_manifests (upstream, repository, digest) VALUES (?, ?, ?)")) {
      insert.setString(1, upstream);
      insert.setString(2, REPOSITORY.value());
      insert.setString(3, new Tag(tag).value());
      insert.setString(4, digest.toString());
      insert.setLong(5, resolved.toEpochMilli());
      insert.executeUpdate();
      link.setString(1, upstream);
      link.setString(2, REPOSITORY.value());
      link.setString(3, digest.toString());
      link.executeUpdate();
    }
  }

  @Test
  void theQueriesOfPinsPurgesAndListingsUseIndexesNotTableScans() throws Exception {
    Map<String, String> queries = Map.of(
        "image rows", ImageGraph.IMAGE_ROWS,
        "pinned by an image", ImageGraph.PINNED_BY_AN_IMAGE,
        "named by a tag or referrers list", ImageGraph.NAMED,
        "stored parents", ImageGraph.STORED_PARENTS,
        "pinned under a name", ImageGraph.PINNED_UNDER,
        "pinned under any name", ImageGraph.NAMED_PIN,
        "unpinned older than", EvictionQueries.UNPINNED_OLDER_THAN,
        "insert with an inherited pin", BlobRows.INSERT,
        "rows in digest order (verify, scrub)", BlobRows.AFTER,
        "upstreams holding a digest", ImageListings.UPSTREAMS_HOLDING);
    // A table scan reads as "SCAN blobs"; scans of the recursive queues (closure, up) are the
    // queues themselves, proportional to one image.
    Pattern tableScan = Pattern.compile("SCAN (blobs|tags|manifest_children|pinned_images|pins|repository_manifests|referrers)\\b");
    Path directory = temp.resolve("plans");
    try (CacheDirectory opened = open(directory)) {
      for (Map.Entry<String, String> query : queries.entrySet()) {
        List<String> plan = plan(directory, query.getValue());
        assertFalse(plan.isEmpty());
        for (String step : plan) {
          assertFalse(tableScan.matcher(step).find(), query.getKey() + " scans a table: " + plan);
        }
      }
    }
  }

  private static List<String> plan(Path directory, String sql) {
    return SqliteClient.query(directory, connection -> {
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
}
