package io.cistern.bench;

import io.cistern.cache.BlobCache;
import io.cistern.cache.BlobCheck;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import io.cistern.cache.Ingest;
import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.Comparator;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Level;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.TearDown;
import org.openjdk.jmh.annotations.Warmup;

/**
 * What checking a cached blob costs, against what serving it costs anyway. A hit opens the file
 * and checks its size against the size recorded on it ({@code hitChecked}); the bare open and
 * fstat a hit made before that check is {@code hitUnchecked}. Hashing the whole blob
 * ({@code hash64MiB}, from the page cache) is what a digest check on every hit would add, and is
 * what {@code cistern verify} and the scrub pay per blob instead.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class BlobHitBenchmark {

  private static final int HASHED_BYTES = 64 << 20;

  private Path directory;
  private CacheDirectory opened;
  private BlobCache cache;
  private Digest small;
  private Digest large;

  @Setup(Level.Trial)
  public void fill() throws IOException {
    directory = Files.createTempDirectory("cistern-jmh-");
    opened = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 40), Clock.systemUTC());
    cache = opened.blobs();
    Random random = new Random(1);
    small = store(random, 1 << 20);
    large = store(random, HASHED_BYTES);
  }

  private Digest store(Random random, int size) throws IOException {
    byte[] content = new byte[size];
    random.nextBytes(content);
    Digest digest = Digest.sha256Of(content);
    Ingest ingest = cache.ingest(digest, size).join();
    ingest.append(ByteBuffer.wrap(content));
    ingest.publish().join();
    return digest;
  }

  @TearDown(Level.Trial)
  public void delete() throws IOException {
    opened.close();
    try (Stream<Path> files = Files.walk(directory)) {
      files.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public long hitUnchecked() throws IOException {
    try (FileChannel channel = FileChannel.open(cache.pathOf(small), StandardOpenOption.READ)) {
      return channel.size();
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.MICROSECONDS)
  public long hitChecked() throws IOException {
    try (FileChannel channel = cache.open(small).orElseThrow().channel()) {
      return channel.size();
    }
  }

  @Benchmark
  @OutputTimeUnit(TimeUnit.MILLISECONDS)
  public boolean hash64MiB() throws InterruptedException {
    return BlobCheck.of(cache.pathOf(large), large, HASHED_BYTES, BlobCheck.Reads.UNPACED).intact();
  }
}
