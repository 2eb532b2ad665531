package io.cistern.testing;

import java.io.IOException;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * For each test, a fresh {@link CountingRelay} in front of a {@link RealUpstream} and a Cistern
 * with a fresh cache whose only upstream ({@code upstream.test}) is that relay: every blob starts
 * cold, and no pooled upstream connection carries a byte count from an earlier test into the
 * relay's counts or its hold. Register it in an instance field:
 *
 * <pre>{@code
 * @RegisterExtension
 * final CisternOnRelay site = new CisternOnRelay(upstream);
 * }</pre>
 */
public final class CisternOnRelay implements BeforeEachCallback, AfterEachCallback {

  private final RealUpstream upstream;
  private ScratchDirectory directory;
  private CountingRelay relay;
  private TestCistern cistern;

  public CisternOnRelay(RealUpstream upstream) {
    this.upstream = upstream;
  }

  @Override
  public void beforeEach(ExtensionContext context) throws IOException, InterruptedException {
    directory = ScratchDirectory.create("cistern-on-relay-");
    relay = CountingRelay.to(upstream.port());
    cistern = TestCistern.forUpstream(directory.path(), relay.url());
  }

  @Override
  public void afterEach(ExtensionContext context) throws IOException {
    // Released first: a download still held at the relay would keep Cistern's stop waiting.
    relay.release();
    cistern.close();
    relay.close();
    directory.close();
  }

  public CountingRelay relay() {
    return relay;
  }

  public TestCistern cistern() {
    return cistern;
  }
}
