package io.cistern.testing;

import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.Optional;
import java.util.function.Supplier;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * What a test class of a real mirror client (containerd, dockerd, podman) keeps around the client
 * for all its tests: whether this machine can run it, a {@link FallbackTrap} where the client's way
 * around its mirror leads, and everything the class starts, closed after all tests, last started
 * first. Where the client cannot run (not installed, not root, or its daemon will not start in
 * this container), every test is skipped with the reason: JUnit reports none for a whole class.
 * Register it in a static field and start the rest in {@code @BeforeAll}, which runs after it:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final RealClientRig rig = new RealClientRig(Dockerd::unavailable);
 *
 * @BeforeAll
 * static void start() throws Exception {
 *   if (!rig.usable()) {
 *     return;
 *   }
 *   TestCistern cistern = rig.closeAfterAll(TestCistern.fromYaml(...));
 *   dockerd = rig.startDaemon(() -> Dockerd.start(...));
 * }
 * }</pre>
 */
public final class RealClientRig implements BeforeAllCallback, BeforeEachCallback, AfterAllCallback {

  /** Starts a client's daemon. */
  public interface DaemonStart<T extends AutoCloseable> {
    T start() throws IOException;
  }

  private final Supplier<Optional<String>> unavailable;
  private final Deque<AutoCloseable> started = new ArrayDeque<>();
  private String skipped;
  private FallbackTrap trap;

  /** @param unavailable why the client cannot run here, or empty when it can ({@link Dockerd#unavailable}) */
  public RealClientRig(Supplier<Optional<String>> unavailable) {
    this.unavailable = unavailable;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    skipped = unavailable.get().orElse(null);
    if (skipped == null) {
      trap = closeAfterAll(new FallbackTrap());
    }
  }

  @Override
  public void beforeEach(ExtensionContext context) {
    assumeTrue(skipped == null, () -> "skipped: " + skipped);
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    AutoCloseable each;
    while ((each = started.pollFirst()) != null) {
      each.close();
    }
  }

  /** Whether the client can run here: when not, the rest of the set-up is left undone. */
  public boolean usable() {
    return skipped == null;
  }

  /** Where the client's fallback registry would be: a pull that went around the mirror connects here. */
  public FallbackTrap trap() {
    return trap;
  }

  /** Closes {@code resource} after all tests, before what was started before it. */
  public <T extends AutoCloseable> T closeAfterAll(T resource) {
    started.addFirst(resource);
    return resource;
  }

  /**
   * Starts the client's daemon, closed after all tests; null, and every test skipped, when it is
   * installed and runs as root yet will not start here (a container without the privileges it needs).
   */
  public <T extends AutoCloseable> T startDaemon(DaemonStart<T> start) {
    try {
      return closeAfterAll(start.start());
    } catch (IOException cannotStart) {
      skipped = cannotStart.getMessage();
      return null;
    }
  }
}
