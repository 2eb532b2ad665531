package io.cistern.testing;

import java.io.IOException;
import java.net.URI;
import java.time.Clock;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * The {@link TestCluster} each test starts over a {@link RealUpstream}: its members' disks in a
 * temp directory of the test's own, its objects in a shared bucket under a prefix named after the
 * test (so tests sharing a {@link RealBucket} never see each other's objects), all of it stopped
 * and deleted after the test. Register it in an instance field:
 *
 * <pre>{@code
 * @RegisterExtension
 * final ClusterPerTest clusters = new ClusterPerTest(upstream);
 * }</pre>
 */
public final class ClusterPerTest implements BeforeEachCallback, AfterEachCallback {

  private final RealUpstream upstream;
  private ScratchDirectory directory;
  private String prefix;
  private TestCluster cluster;

  public ClusterPerTest(RealUpstream upstream) {
    this.upstream = upstream;
  }

  @Override
  public void beforeEach(ExtensionContext context) throws IOException {
    directory = ScratchDirectory.create("cistern-cluster-");
    prefix = "t-" + context.getRequiredTestMethod().getName();
  }

  @Override
  public void afterEach(ExtensionContext context) throws IOException {
    if (cluster != null) {
      cluster.close();
      cluster = null;
    }
    directory.close();
  }

  /** Starts {@code size} members without a bucket, on the system clock. */
  public TestCluster start(int size) throws IOException, InterruptedException {
    return start(size, null, Clock.systemUTC(), "", "");
  }

  /**
   * Starts this test's cluster of {@code size} members.
   *
   * @param bucket the S3 endpoint of the shared bucket, or null for none
   * @param extraYaml more configuration for every member (tag TTLs), outside the cluster and bucket sections
   * @param bucketYaml more keys of the bucket section, each on a line of its own ({@code redirect: true})
   */
  public TestCluster start(int size, URI bucket, Clock clock, String extraYaml, String bucketYaml)
      throws IOException, InterruptedException {
    if (cluster != null) {
      throw new IllegalStateException("this test has started its cluster already");
    }
    cluster = TestCluster.start(directory.path(), size, upstream, bucket, prefix, clock, extraYaml, bucketYaml);
    return cluster;
  }

  /** The bucket prefix of this test's objects: {@code t-<test method>}. */
  public String prefix() {
    return prefix;
  }
}
