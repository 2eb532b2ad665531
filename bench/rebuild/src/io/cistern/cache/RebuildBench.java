package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Comparator;
import java.util.Random;
import java.util.stream.Stream;

/**
 * How fast a cache whose metadata database was lost is rebuilt from its files: every file is
 * hashed before it is adopted ({@link Recovery#rebuild}), so a start after such a loss costs a
 * read of the whole cache. It stores {@code layers} files of {@code layerMiB} MiB and
 * {@code small} files of 4 KiB (named by their digests, as the cache stores them), deletes the
 * database, and times {@link CacheDirectory#open}. The files were just written, so they are read from
 * the page cache: this is the hashing rate; a cache read cold from disk adds the disk's read time.
 * Run it with {@code bench/rebuild.sh [layers layerMiB small]} (default 32 64 10000: 2 GiB).
 */
public final class RebuildBench {

  public static void main(String[] args) throws Exception {
    int layers = args.length > 0 ? Integer.parseInt(args[0]) : 32;
    int layerMiB = args.length > 1 ? Integer.parseInt(args[1]) : 64;
    int small = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
    Path root = Files.createTempDirectory("cistern-rebuild-bench-");
    try {
      Path cache = root.resolve("cache");
      System.out.printf("storing %d files of %d MiB and %,d of 4 KiB...%n", layers, layerMiB, small);
      long bytes = store(cache, layers, layerMiB << 20, small);
      Files.delete(cache.resolve(CacheDirectory.DATABASE_FILE));
      long started = System.nanoTime();
      try (CacheDirectory rebuilt = CacheDirectory.open(CacheSettings.defaults(cache, Long.MAX_VALUE / 2), Clock.systemUTC())) {
        double seconds = (System.nanoTime() - started) / 1e9;
        CacheStats stats = rebuilt.blobs().stats();
        if (stats.storedBytes() != bytes || stats.entries() != layers + small) {
          throw new IllegalStateException("rebuilt " + stats + ", expected " + bytes + " bytes");
        }
        System.out.printf("%nrebuild of %,d files, %,d MiB, on %d cores: %.2f s, %.0f MB/s, %,.0f files/s%n",
            stats.entries(), bytes >> 20, Runtime.getRuntime().availableProcessors(), seconds, bytes / 1e6 / seconds,
            stats.entries() / seconds);
      }
    } finally {
      try (Stream<Path> paths = Files.walk(root)) {
        for (Path path : paths.sorted(Comparator.reverseOrder()).toList()) {
          Files.delete(path);
        }
      }
    }
  }

  /** Writes the files where the cache keeps them, and a database that records none of them. */
  private static long store(Path cache, int layers, int layerBytes, int small) throws IOException {
    CacheDirectory.open(CacheSettings.defaults(cache, Long.MAX_VALUE / 2), Clock.systemUTC()).close();
    DiskTier blobs = DiskTier.standalone(cache.resolve("blobs"));
    Random random = new Random(1);
    long total = 0;
    for (int i = 0; i < layers + small; i++) {
      byte[] content = new byte[i < layers ? layerBytes : 4096];
      random.nextBytes(content);
      Path file = blobs.pathOf(Digest.sha256Of(content));
      Files.createDirectories(file.getParent());
      Files.write(file, content);
      total += content.length;
    }
    return total;
  }
}
