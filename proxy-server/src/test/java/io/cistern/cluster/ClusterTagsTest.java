package io.cistern.cluster;

import static io.cistern.testing.PullAssertions.assertServesManifest;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.ClusterPerTest;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealBucket;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCluster;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Tags and manifests across a cluster, with a real Distribution upstream and a real S3-API server:
 * a repository's owner revalidates its tags for every member (one GET, then one HEAD per TTL for
 * the whole cluster), and a member with an empty disk resolves a tag another confirmed within the
 * TTL from its document in the bucket, and the manifest from the bucket, without any upstream.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterTagsTest {

  private static final String REPOSITORY = "team/tagged";
  private static final String TAG = "1.0";
  private static final String MANIFEST_PATH = "/v2/" + REPOSITORY + "/manifests/" + TAG;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @RegisterExtension
  static final RealBucket s3 = new RealBucket();

  private static final TestImage image = TestImage.random(2001, 1, 64 * 1024, "amd64");

  @RegisterExtension
  final ClusterPerTest clusters = new ClusterPerTest(upstream);

  private final MutableClock clock = new MutableClock(Instant.now());
  private TestCluster cluster;

  @BeforeAll
  static void seed() throws Exception {
    upstream.push(REPOSITORY, TAG, image);
  }

  private void cluster(int size, URI bucket) throws Exception {
    // Blocking revalidation, so each count below is settled when the request that causes it is
    // answered (in the background mode the HEADs would run after the answers).
    cluster = clusters.start(size, bucket, clock, "tagTtl: 1m\ntagRevalidation: blocking\n", "");
  }

  @Test
  void theRepositorysOwnerRevalidatesItsTagsOncePerTtlForTheWholeCluster() throws Exception {
    cluster(3, null);
    int owner = cluster.order("upstream.test/" + REPOSITORY).get(0);
    for (int member = 0; member < 3; member++) {
      assertManifest(cluster.member(member));
    }
    assertEquals(1, upstreamManifestRequests("GET"), "one GET of the tag for the cluster: " + cluster.upstream().requests());
    assertEquals(0, upstreamManifestRequests("HEAD"));
    for (int member = 0; member < 3; member++) {
      assertEquals(member == owner ? 2 : 0, tagRequestsFromMembers(member), "the others asked the owner, " + owner);
    }

    clock.advance(Duration.ofMinutes(2));
    for (int member = 0; member < 3; member++) {
      assertManifest(cluster.member(member));
    }
    assertEquals(1, upstreamManifestRequests("HEAD"), "one revalidation for the cluster once stale: "
        + cluster.upstream().requests());
    assertEquals(1, upstreamManifestRequests("GET"), "the tag still points at the manifest held");
  }

  @Test
  void aMemberWithAnEmptyDiskResolvesAFreshTagFromTheBucketWithoutTheUpstream() throws Exception {
    cluster(2, s3.endpoint());
    assertManifest(cluster.member(0));
    cluster.settleBucket();
    assertTrue(s3.holds(clusters.prefix() + "/tags/upstream.test/" + REPOSITORY + "/" + TAG),
        "the tag's document is in the bucket");
    assertTrue(s3.holds(clusters.prefix() + "/blobs/sha256/" + image.digest().hex()),
        "and the manifest, under its digest");
    int upstreamBefore = cluster.upstream().requests().size();
    // Member 0 may have asked member 1, the repository's owner.
    long memberRequestsBefore = tagRequestsFromMembers(0) + tagRequestsFromMembers(1);

    TestCistern newcomer = cluster.startNewcomer();
    assertManifest(newcomer);
    assertEquals(upstreamBefore, cluster.upstream().requests().size(), "no upstream request: "
        + cluster.upstream().requests());
    assertEquals(memberRequestsBefore, tagRequestsFromMembers(0) + tagRequestsFromMembers(1),
        "nor a member's: the bucket told the newcomer");

    clock.advance(Duration.ofMinutes(2));
    assertManifest(newcomer);
    assertEquals(1, upstreamManifestRequests("HEAD"), "a stale document is revalidated once: " + cluster.upstream().requests());
    assertEquals(1, upstreamManifestRequests("GET"));
  }

  private void assertManifest(TestCistern member) throws Exception {
    assertServesManifest(member, MANIFEST_PATH, image);
  }

  private long upstreamManifestRequests(String method) {
    return cluster.upstream().count(method, path -> path.contains("/manifests/"));
  }

  /** The tag requests that other members sent to {@code member}. */
  private long tagRequestsFromMembers(int member) {
    return cluster.relay(member).requests().stream()
        .filter(request -> request.path().contains("/manifests/" + TAG) && request.hasHeader("Cistern-Member"))
        .count();
  }
}
