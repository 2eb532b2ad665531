package io.cistern.bench;

import io.cistern.oci.AcceptHeader;
import io.cistern.oci.Digest;
import io.cistern.oci.Reference;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.MediaTypes;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** What every registry request parses: its repository name, its reference, its Accept header. */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class ParsingBenchmark {

  private final String name = "library/some-image_name/with.several-components";
  private final String digest = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  private final String tag = "v1.27.3-alpine3.20";
  private final List<String> accept = List.of(String.join(", ", MediaTypes.ALL_MANIFESTS));

  @Benchmark
  public RepositoryName repositoryName() {
    return RepositoryName.of(name);
  }

  @Benchmark
  public Reference tagReference() {
    return Reference.parse(tag);
  }

  @Benchmark
  public Digest digestReference() {
    return Digest.parse(digest);
  }

  @Benchmark
  public AcceptHeader acceptHeader() {
    return AcceptHeader.parse(accept);
  }
}
