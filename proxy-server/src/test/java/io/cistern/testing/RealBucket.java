package io.cistern.testing;

import java.io.IOException;
import java.net.URI;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real S3-API server ({@link S3Server}) for a whole test class: started in its own temp directory
 * before all tests, stopped and deleted after them. The tests sharing it keep apart by prefix
 * ({@link ClusterPerTest#prefix}). Register it in a static field:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final RealBucket s3 = new RealBucket();
 * }</pre>
 */
public final class RealBucket implements BeforeAllCallback, AfterAllCallback {

  private ScratchDirectory directory;
  private S3Server server;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    directory = ScratchDirectory.create("cistern-bucket-");
    server = S3Server.start(directory.path());
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    server.close();
    directory.close();
  }

  public URI endpoint() {
    return server.endpoint();
  }

  /** Whether the bucket holds an object under {@code key}. */
  public boolean holds(String key) {
    return server.holds(key);
  }

  /** The Content-Type the object {@code key} was stored with. */
  public String contentType(String key) {
    return server.contentType(key);
  }

  /** Holds the next removal of {@code key} until released: see {@link S3Server#holdRemoval}. */
  public S3Server.RemovalHold holdRemoval(String key) {
    return server.holdRemoval(key);
  }

  /** Removes every object under {@code keyPrefix}, as a lifecycle rule expiring them would; returns how many. */
  public int removeUnder(String keyPrefix) throws IOException {
    return server.removeUnder(keyPrefix);
  }
}
