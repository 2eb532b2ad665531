package io.cistern.testing;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.util.function.Function;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * For a whole test class, a Cistern in this JVM on a clock the tests move, whose upstreams all lead
 * through one {@link CountingRelay} to one {@link RealUpstream}: a test ages what is cached without
 * waiting, and counts what reached the upstream. Register it in a static field and start it in
 * {@code @BeforeAll} (after seeding the upstream) with the configuration the class needs; it stops
 * after all tests:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final ClockedCisternOnRelay site = new ClockedCisternOnRelay(upstream, clock);
 *
 * @BeforeAll
 * static void start() throws Exception {
 *   cistern = site.start(relay -> "tagTtl: 5m\nupstreams:\n  - host: upstream.test\n    url: " + relay + "\n");
 * }
 * }</pre>
 */
public final class ClockedCisternOnRelay implements AfterAllCallback {

  private final RealUpstream upstream;
  private final MutableClock clock;
  private ScratchDirectory directory;
  private CountingRelay relay;
  private TestCistern cistern;

  public ClockedCisternOnRelay(RealUpstream upstream, MutableClock clock) {
    this.upstream = upstream;
    this.clock = clock;
  }

  /**
   * Starts the relay and Cistern, and returns Cistern.
   *
   * @param configuration the configuration beside the cache's (upstreams, TTLs), given the relay's url
   */
  public TestCistern start(Function<URI, String> configuration) throws IOException, InterruptedException {
    directory = ScratchDirectory.create("cistern-clocked-");
    relay = CountingRelay.to(upstream.port());
    cistern = TestCistern.fromYaml(directory.path(), "cache:\n  directory: " + cacheDirectory() + "\n"
        + configuration.apply(relay.url()), clock);
    return cistern;
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    // What a start that failed part-way left null was never started.
    for (AutoCloseable started : new AutoCloseable[] {cistern, relay, directory}) {
      if (started != null) {
        started.close();
      }
    }
  }

  public CountingRelay relay() {
    return relay;
  }

  public Path cacheDirectory() {
    return directory.path().resolve("cache");
  }
}
