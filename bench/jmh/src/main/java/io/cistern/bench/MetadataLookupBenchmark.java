package io.cistern.bench;

import io.cistern.cache.BlobCache;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.Comparator;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * The cache lookups behind a request that misses the in-memory caches: a tag's mapping from
 * SQLite, a manifest read from disk with its media type, and the open() that serves a blob hit.
 * The cache holds {@code tags} tagged manifests, so the cost can be compared across sizes.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MICROSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class MetadataLookupBenchmark {

  @Param({"1000", "50000"})
  public int tags;

  private Path directory;
  private CacheDirectory opened;
  private BlobCache cache;
  private TagKey probeTag;
  private Digest probeManifest;
  private int next;

  @Setup(Level.Trial)
  public void fill() throws IOException {
    directory = Files.createTempDirectory("cistern-jmh-");
    opened = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 40), Clock.systemUTC());
    cache = opened.blobs();
    RepositoryName repository = RepositoryName.of("library/app");
    for (int i = 0; i < tags; i++) {
      Manifest manifest = Manifest.of(MediaTypes.OCI_MANIFEST,
          ("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_MANIFEST + "\",\"n\":" + i + "}").getBytes(StandardCharsets.UTF_8));
      cache.storeManifest(manifest);
      TagKey key = new TagKey("docker.io", repository, new Tag("t" + i));
      opened.tags().put(new TagMapping(key, manifest.digest(), Instant.now()));
      if (i == tags / 2) {
        probeTag = key;
        probeManifest = manifest.digest();
      }
    }
  }

  @TearDown(Level.Trial)
  public void delete() throws IOException {
    opened.close();
    try (Stream<Path> files = Files.walk(directory)) {
      files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }

  @Benchmark
  public TagMapping tagLookup() {
    return opened.tags().find(probeTag).orElseThrow();
  }

  @Benchmark
  public Manifest manifestRead() {
    return cache.readManifest(probeManifest).orElseThrow();
  }

  @Benchmark
  public long blobOpen() throws IOException {
    try (FileChannel channel = cache.open(probeManifest).orElseThrow().channel()) {
      return channel.size() + next++;
    }
  }
}
