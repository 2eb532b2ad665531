package io.cistern.testing;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.net.URI;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real Distribution registry ({@link DistributionRegistry}, anonymous, plain HTTP) for a whole
 * test class: started in its own temp directory before all tests, stopped and deleted after them.
 * Register it in a static field and seed it in a {@code @BeforeAll} method, which runs after it
 * has started:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final RealUpstream upstream = new RealUpstream();
 * }</pre>
 */
public final class RealUpstream implements BeforeAllCallback, AfterAllCallback {

  private ScratchDirectory directory;
  private DistributionRegistry registry;
  private RegistryPusher pusher;

  @Override
  public void beforeAll(ExtensionContext context) throws IOException {
    directory = ScratchDirectory.create("cistern-upstream-");
    registry = DistributionRegistry.start(directory.path());
    pusher = new RegistryPusher(registry.url());
  }

  @Override
  public void afterAll(ExtensionContext context) throws IOException {
    registry.close();
    directory.close();
  }

  /** Pushes every blob and manifest of {@code image} and tags the top manifest. */
  public void push(String repository, String tag, TestImage image) throws IOException, InterruptedException {
    pusher.push(repository, tag, image);
  }

  /** Pushes {@code bytes} as a blob of {@code repository}, under their sha256 digest. */
  public void pushBlob(String repository, byte[] bytes) throws IOException, InterruptedException {
    pusher.pushBlob(repository, bytes, Digest.sha256Of(bytes).toString());
  }

  public void putManifest(String repository, String reference, TestImage.Blob manifest) throws IOException, InterruptedException {
    pusher.putManifest(repository, reference, manifest);
  }

  public URI url() {
    return registry.url();
  }

  public int port() {
    return registry.port();
  }

  /** {@code 127.0.0.1:PORT}, as skopeo names it. */
  public String hostPort() {
    return registry.hostPort();
  }

  /** What has reached the registry so far (lines appear once each request has finished). */
  public List<DistributionRegistry.Request> accessLog() {
    return registry.accessLog();
  }

  /** Stops the registry, as an upstream outage; {@link #restart()} ends it. */
  public void stop() {
    registry.stop();
  }

  /** Starts the stopped registry again on the same port and storage. */
  public void restart() throws IOException {
    registry.restart();
  }
}
