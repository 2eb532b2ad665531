package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.List;
import java.util.Random;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/**
 * Shows that an eviction pass and a metadata lookup cost the same with 1,000 or 1,000,000 cached
 * blobs: both go through an index, so their cost follows what they touch, not what is stored.
 *
 * <p>For each size it fills a fresh SQLite database with that many blob rows (one in a hundred a
 * tagged manifest), then times, on the real {@link Evictor}, {@link BlobRows} and {@link TagRows}: eviction
 * passes that each free {@value #EVICTED_PER_PASS} blobs (rows, tags and files); lookups of a
 * blob row and of a tag by key; and a flush of {@value #ACCESSES_PER_FLUSH} buffered hits. Run it
 * with {@code bench/eviction-scale.sh}; arguments are the row counts (default 1000 1000000).
 */
public final class EvictionScaleBench {

  private static final long BLOB_SIZE = 1 << 20;
  private static final int EVICTED_PER_PASS = 100;
  private static final int PASSES = 30;
  private static final int LOOKUPS = 20_000;
  private static final int ACCESSES_PER_FLUSH = 1_000;
  private static final int FLUSHES = 20;
  private static final int FILL_BATCH = 10_000;

  private record Result(int rows, double fillSeconds, double passMillis, double blobLookupMicros,
      double tagLookupMicros, double flushMillis, double scanMillis, String candidatePlan) {}

  public static void main(String[] args) throws Exception {
    int[] sizes = args.length == 0 ? new int[] {1_000, 1_000_000} : Arrays.stream(args).mapToInt(Integer::parseInt).toArray();
    Path root = Files.createTempDirectory("cistern-eviction-bench-");
    try {
      // A throwaway warm-up so the first measured size does not pay for JIT compilation.
      measure(root.resolve("warm-up"), 2_000);
      List<Result> results = new ArrayList<>();
      for (int rows : sizes) {
        System.out.printf("filling %,d rows...%n", rows);
        results.add(measure(root.resolve("rows-" + rows), rows));
      }
      print(results);
    } finally {
      deleteTree(root);
    }
  }

  private static Result measure(Path directory, int rows) throws Exception {
    Files.createDirectories(directory);
    try (MetadataDatabase metadata = MetadataDatabase.open(directory.resolve("metadata.db"), 4, null)) {
      SchemaMigrations.migrate(metadata);
      BlobRows blobRows = new BlobRows(metadata);
      TagRows tagRows = new TagRows(metadata);
      long fillStart = System.nanoTime();
      fill(metadata, rows);
      double fillSeconds = (System.nanoTime() - fillStart) / 1e9;

      DiskTier blobs = DiskTier.standalone(directory.resolve("blobs"));
      long cap = rows * BLOB_SIZE;
      DiskBudget budget = new DiskBudget(cap, cap - EVICTED_PER_PASS * BLOB_SIZE, Duration.ofMinutes(1), () -> { }, Runnable::run,
          Files.getFileStore(directory), 0);
      AccessTracker accesses = new AccessTracker();
      List<Digest> evicted = new CopyOnWriteArrayList<>();
      Turns turns = new Turns();
      try (Evictor evictor = new Evictor(metadata, blobs, budget, accesses, Duration.ofHours(1), evicted::addAll, turns)) {
        evictor.start();
        Random random = new Random(rows);
        long[] nextAccess = {rows};

        // Lookups first: the passes below delete the oldest manifests' tags.
        List<Digest> sample = new ArrayList<>();
        List<TagKey> tags = new ArrayList<>();
        for (int i = 0; i < 1_000; i++) {
          int row = random.nextInt(rows);
          sample.add(digestOf(row));
          int tagged = row - row % 100;
          tags.add(tagKey(tagged));
        }
        double blobLookup = timeLookups(() -> blobRows.find(sample.get(random.nextInt(sample.size()))).orElseThrow());
        double tagLookup = timeLookups(() -> tagRows.find(tags.get(random.nextInt(tags.size()))).orElseThrow());

        // One blob over the cap: each pass frees EVICTED_PER_PASS + 1 of the oldest. The evicted
        // ones come back as the newest afterwards, so every pass finds the same amount to do.
        createFiles(blobs, Math.min(rows, PASSES * (EVICTED_PER_PASS + 1)));
        double[] passes = new double[PASSES];
        for (int pass = 0; pass < PASSES; pass++) {
          budget.initialise(cap + BLOB_SIZE, rows);
          evicted.clear();
          long start = System.nanoTime();
          evictor.poke();
          turns.awaitCaughtUp();
          passes[pass] = (System.nanoTime() - start) / 1e6;
          if (evicted.size() != EVICTED_PER_PASS + 1) {
            throw new IllegalStateException("a pass evicted " + evicted.size() + " blobs");
          }
          restore(blobRows, blobs, evicted, nextAccess);
        }

        double[] flushes = new double[FLUSHES];
        for (int flush = 0; flush < FLUSHES; flush++) {
          for (int i = 0; i < ACCESSES_PER_FLUSH; i++) {
            accesses.record(digestOf(random.nextInt(rows)), nextAccess[0]++);
          }
          long start = System.nanoTime();
          evictor.poke();
          turns.awaitCaughtUp();
          flushes[flush] = (System.nanoTime() - start) / 1e6;
        }
        long scanStart = System.nanoTime();
        blobRows.totals();
        double scanMillis = (System.nanoTime() - scanStart) / 1e6;
        return new Result(rows, fillSeconds, median(passes), blobLookup, tagLookup, median(flushes), scanMillis,
            candidatePlan(metadata));
      }
    }
  }

  /** Rows as the cache writes them, in one transaction; row i was last read at time i. */
  private static void fill(MetadataDatabase metadata, int rows) {
    metadata.withConnection(connection -> {
      connection.setAutoCommit(false);
      try (PreparedStatement blob = connection.prepareStatement(
               "INSERT INTO blobs (digest, size, media_type, stored_at, last_access) VALUES (?, ?, ?, ?, ?)");
           PreparedStatement tag = connection.prepareStatement(
               "INSERT INTO tags (upstream, repository, tag, digest, resolved_at) VALUES (?, ?, ?, ?, ?)");
           PreparedStatement link = connection.prepareStatement(
               "INSERT INTO repository_manifests (upstream, repository, digest) VALUES (?, ?, ?)")) {
        for (int i = 0; i < rows; i++) {
          String digest = digestOf(i).toString();
          boolean manifest = i % 100 == 0;
          blob.setString(1, digest);
          blob.setLong(2, BLOB_SIZE);
          blob.setString(3, manifest ? "application/vnd.oci.image.manifest.v1+json" : null);
          blob.setLong(4, i);
          blob.setLong(5, i);
          blob.addBatch();
          if (manifest) {
            TagKey key = tagKey(i);
            tag.setString(1, key.upstream());
            tag.setString(2, key.repository().value());
            tag.setString(3, key.tag().value());
            tag.setString(4, digest);
            tag.setLong(5, i);
            tag.addBatch();
            link.setString(1, key.upstream());
            link.setString(2, key.repository().value());
            link.setString(3, digest);
            link.addBatch();
          }
          if (i % FILL_BATCH == FILL_BATCH - 1 || i == rows - 1) {
            blob.executeBatch();
            tag.executeBatch();
            link.executeBatch();
          }
        }
        connection.commit();
      } finally {
        connection.setAutoCommit(true);
      }
      return null;
    });
  }

  /** Puts evicted rows back as the most recently used, with their files, outside the timing. */
  private static void restore(BlobRows rows, DiskTier blobs, List<Digest> evicted, long[] nextAccess) throws IOException {
    for (Digest digest : evicted) {
      rows.insert(digest, BLOB_SIZE, null, List.of(), nextAccess[0]++);
      blobs.write(digest, new byte[0]);
    }
  }

  private static void createFiles(DiskTier blobs, int count) throws IOException {
    for (int i = 0; i < count; i++) {
      blobs.write(digestOf(i), new byte[0]);
    }
  }

  private static double timeLookups(Runnable lookup) {
    for (int i = 0; i < LOOKUPS / 4; i++) {
      lookup.run();
    }
    long start = System.nanoTime();
    for (int i = 0; i < LOOKUPS; i++) {
      lookup.run();
    }
    return (System.nanoTime() - start) / 1e3 / LOOKUPS;
  }

  private static String candidatePlan(MetadataDatabase metadata) {
    return metadata.withConnection(connection -> plan(connection,
        "SELECT digest, size, media_type, stored_at, last_access FROM blobs WHERE pinned = 0 ORDER BY last_access, digest LIMIT 256"));
  }

  private static String plan(Connection connection, String query) throws java.sql.SQLException {
    StringBuilder plan = new StringBuilder();
    try (PreparedStatement explain = connection.prepareStatement("EXPLAIN QUERY PLAN " + query);
         ResultSet rs = explain.executeQuery()) {
      while (rs.next()) {
        plan.append(plan.length() == 0 ? "" : "; ").append(rs.getString("detail"));
      }
    }
    return plan.toString();
  }

  /** The evictor's turns, for waiting on the one that serves the poke just made (the bench pokes from one thread). */
  private static final class Turns implements EvictorObserver {

    private record Turn(long served, Throwable failure) {}

    private final AtomicLong poked = new AtomicLong();
    private final BlockingQueue<Turn> ended = new LinkedBlockingQueue<>();

    @Override
    public void poked(long poke) {
      poked.set(poke);
    }

    @Override
    public void turnEnded(long served, Throwable failure) {
      ended.add(new Turn(served, failure));
    }

    void awaitCaughtUp() throws InterruptedException {
      long target = poked.get();
      Turn turn;
      do {
        turn = ended.take();
        if (turn.failure() != null) {
          throw new IllegalStateException("an eviction turn failed", turn.failure());
        }
      } while (turn.served() < target);
    }
  }

  private static Digest digestOf(int row) {
    return Digest.sha256Of(ByteBuffer.allocate(4).putInt(row).array());
  }

  private static TagKey tagKey(int row) {
    return new TagKey("docker.io", RepositoryName.of("bench/repo-" + (row / 100) % 1_000), new Tag("t" + row));
  }

  private static double median(double[] values) {
    double[] sorted = values.clone();
    Arrays.sort(sorted);
    return sorted[sorted.length / 2];
  }

  private static void print(List<Result> results) {
    System.out.println();
    String row = "%-12s %9s %22s %17s %16s %21s %20s%n";
    System.out.printf(row, "blob rows", "fill (s)", "pass, " + (EVICTED_PER_PASS + 1) + " evicted (ms)",
        "blob lookup (us)", "tag lookup (us)", "flush " + ACCESSES_PER_FLUSH + " hits (ms)", "full scan, ref. (ms)");
    for (Result r : results) {
      System.out.printf(row, String.format("%,d", r.rows()), String.format("%.1f", r.fillSeconds()),
          String.format("%.2f", r.passMillis()), String.format("%.1f", r.blobLookupMicros()),
          String.format("%.1f", r.tagLookupMicros()), String.format("%.2f", r.flushMillis()),
          String.format("%.1f", r.scanMillis()));
    }
    if (results.size() > 1) {
      Result small = results.get(0);
      Result large = results.get(results.size() - 1);
      System.out.printf(row, "ratio", "", String.format("%.2f", large.passMillis() / small.passMillis()),
          String.format("%.2f", large.blobLookupMicros() / small.blobLookupMicros()),
          String.format("%.2f", large.tagLookupMicros() / small.tagLookupMicros()),
          String.format("%.2f", large.flushMillis() / small.flushMillis()),
          String.format("%.0f", large.scanMillis() / small.scanMillis()));
    }
    System.out.println();
    System.out.println("eviction candidates: " + results.get(results.size() - 1).candidatePlan());
    System.out.println("(medians of " + PASSES + " passes and " + FLUSHES + " flushes; lookups are means of " + LOOKUPS
        + "; the full scan, SUM over every row, is what a pass would cost without the index)");
  }

  private static void deleteTree(Path root) throws IOException {
    try (Stream<Path> paths = Files.walk(root)) {
      for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
        Files.deleteIfExists(path);
      }
    }
  }
}
