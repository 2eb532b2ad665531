package io.cistern.testing;

import io.cistern.cluster.Member;
import io.cistern.cluster.Rendezvous;
import io.cistern.oci.Digest;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Several Cisterns in this JVM as one cluster, each behind a {@link CountingRelay} that is its
 * address for the others (listening before the Cistern behind it starts on a port the kernel
 * picks), all of them with one upstream, {@code upstream.test}, reached through one more relay
 * that counts what reaches it cluster-wide. With a bucket endpoint, they share that bucket under
 * a prefix of the test's own.
 *
 * <p>Background probes are off (an hour apart): once every member has started, each is probed
 * once by all the others ({@link #probeAll}), so every member sees every other live and computes
 * the same owners, and a test decides when liveness changes.
 */
public final class TestCluster implements AutoCloseable {

  public static final String TOKEN = "test-cluster-token";

  private final Path directory;
  private final CountingRelay upstream;
  private final URI bucket;
  private final String prefix;
  private final Clock clock;
  private final String extraYaml;
  private final String bucketYaml;
  private final List<CountingRelay> relays = new ArrayList<>();
  private final List<TestCistern> members = new ArrayList<>();

  private TestCluster(Path directory, CountingRelay upstream, URI bucket, String prefix, Clock clock, String extraYaml,
      String bucketYaml) {
    this.directory = directory;
    this.upstream = upstream;
    this.bucket = bucket;
    this.prefix = prefix;
    this.clock = clock;
    this.extraYaml = extraYaml;
    this.bucketYaml = bucketYaml;
  }

  /**
   * Starts {@code size} members over {@code upstream} ({@link ClusterPerTest} starts one for a test).
   *
   * @param bucket the S3 endpoint of a shared bucket ({@link S3Server}), or null for none
   * @param prefix the bucket prefix of this cluster's objects
   * @param extraYaml more configuration for every member (tag TTLs), outside the cluster and bucket sections
   * @param bucketYaml more keys of the bucket section, each on a line of its own ({@code redirect: true})
   */
  public static TestCluster start(Path directory, int size, RealUpstream upstream, URI bucket, String prefix, Clock clock,
      String extraYaml, String bucketYaml) throws IOException, InterruptedException {
    TestCluster cluster = new TestCluster(directory, CountingRelay.to(upstream.port()), bucket, prefix, clock, extraYaml,
        bucketYaml);
    try {
      for (int i = 0; i < size; i++) {
        cluster.relays.add(CountingRelay.unconnected());
      }
      for (int i = 0; i < size; i++) {
        cluster.members.add(cluster.startMember(i, cluster.relays));
      }
      cluster.probeAll();
      return cluster;
    } catch (IOException | InterruptedException | RuntimeException e) {
      cluster.close();
      throw e;
    }
  }

  /**
   * Starts one more Cistern with an empty disk, sharing the bucket and knowing every member (the
   * others do not know it): what a member added to a cluster, or restarted without its disk, is.
   */
  public TestCistern startNewcomer() throws IOException, InterruptedException {
    CountingRelay relay = CountingRelay.unconnected();
    List<CountingRelay> everyone = new ArrayList<>(relays);
    everyone.add(relay);
    relays.add(relay);
    TestCistern newcomer = startMember(relays.size() - 1, everyone);
    members.add(newcomer);
    newcomer.cistern().cluster().membership().probeNow().join();
    return newcomer;
  }

  private TestCistern startMember(int index, List<CountingRelay> known) throws IOException, InterruptedException {
    StringBuilder yaml = new StringBuilder()
        .append("cache:\n  directory: ").append(directory.resolve("member-" + index)).append('\n')
        .append("upstreams:\n  - host: upstream.test\n    url: ").append(upstream.url()).append('\n')
        .append("cluster:\n  token: ").append(TOKEN).append("\n  probeInterval: 1h\n  self: ")
        .append(known.get(index).url()).append("\n  members:\n");
    for (CountingRelay relay : known) {
      yaml.append("    - ").append(relay.url()).append('\n');
    }
    if (bucket != null) {
      yaml.append("bucket:\n  name: ").append(S3Server.BUCKET).append("\n  endpoint: ").append(bucket)
          .append("\n  prefix: ").append(prefix).append("\n  pathStyle: true\n  accessKeyId: ")
          .append(S3Server.ACCESS_KEY).append("\n  secretAccessKeyEnv: TEST_BUCKET_SECRET\n");
      bucketYaml.lines().forEach(line -> yaml.append("  ").append(line).append('\n'));
    }
    yaml.append(extraYaml);
    TestCistern started = TestCistern.fromYaml(directory.resolve("config-" + index), yaml.toString(), clock,
        Map.of("TEST_BUCKET_SECRET", S3Server.SECRET_KEY));
    known.get(index).connectTo(started.port());
    return started;
  }

  /** Every member probes every other now, so that each sees the others' liveness as it is. */
  public void probeAll() {
    for (TestCistern member : members) {
      member.cistern().cluster().membership().probeNow().join();
    }
  }

  public int size() {
    return members.size();
  }

  public TestCistern member(int index) {
    return members.get(index);
  }

  /** The relay in front of member {@code index}: its address, and what other members asked it. */
  public CountingRelay relay(int index) {
    return relays.get(index);
  }

  /** The relay in front of the upstream: what reached it from the whole cluster. */
  public CountingRelay upstream() {
    return upstream;
  }

  public Member memberName(int index) {
    return Member.of(relays.get(index).url());
  }

  /** The indexes of the first {@code size()} members in rendezvous order for {@code key}: the owner first. */
  public List<Integer> order(String key) {
    List<Member> names = new ArrayList<>();
    for (int i = 0; i < members.size(); i++) {
      names.add(memberName(i));
    }
    List<Integer> order = new ArrayList<>();
    for (Member member : Rendezvous.order(names, key)) {
      order.add(names.indexOf(member));
    }
    return order;
  }

  /** The GETs of the blob {@code digest}, ranged or not, that reached the upstream from the whole cluster. */
  public long upstreamGets(Digest digest) {
    return upstream.count("GET", path -> path.endsWith(digest.toString()));
  }

  /** Waits until every member's bucket uploads and document writes under way have ended. */
  public void settleBucket() {
    for (TestCistern member : members) {
      member.cistern().cluster().bucket().settled().join();
    }
  }

  /** Member requests that reached member {@code index}: those carrying the member header. */
  public long memberRequests(int index, String method, String pathSuffix) {
    return relays.get(index).requests().stream()
        .filter(request -> request.method().equals(method) && request.path().endsWith(pathSuffix)
            && request.hasHeader("Cistern-Member"))
        .count();
  }

  @Override
  public void close() throws IOException {
    upstream.release();
    relays.forEach(CountingRelay::release);
    for (TestCistern member : members) {
      member.close();
    }
    for (CountingRelay relay : relays) {
      relay.close();
    }
    upstream.close();
  }
}
