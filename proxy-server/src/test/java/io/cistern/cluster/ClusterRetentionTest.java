package io.cistern.cluster;

import static io.cistern.testing.PullAssertions.assertServesManifest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.ClusterPerTest;
import io.cistern.testing.RealBucket;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCluster;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * Retention in the bucket, with a real Distribution upstream and a real S3-API server: a pin made
 * on one member keeps the image in the cluster when the lifecycle rule has expired everything
 * under {@code blobs/} (a member with an empty disk still serves it without the upstream), an
 * unpin removes the pinned copies, and a purge removes the bucket's tag documents (a fresh member
 * goes to the upstream for the tag), and is refused for an image pinned on another member.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterRetentionTest {

  private static final String REPOSITORY = "team/kept";
  private static final String TAG = "1.0";
  private static final String IMAGE = "upstream.test/" + REPOSITORY + ":" + TAG;
  private static final String MANIFEST_PATH = "/v2/" + REPOSITORY + "/manifests/" + TAG;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @RegisterExtension
  static final RealBucket s3 = new RealBucket();

  private static final TestImage image = TestImage.random(2101, 2, 200 * 1024, "amd64");

  @RegisterExtension
  final ClusterPerTest clusters = new ClusterPerTest(upstream);

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private TestCluster cluster;
  private String prefix;

  @BeforeAll
  static void seed() throws Exception {
    upstream.push(REPOSITORY, TAG, image);
  }

  private void cluster() throws Exception {
    cluster = clusters.start(2, s3.endpoint(), Clock.systemUTC(), "tagTtl: 1h\n", "");
    prefix = clusters.prefix();
  }

  @Test
  void aPinnedImageOutlivesTheLifecycleRuleOnEveryMemberAndUnpinningLetsItGo() throws Exception {
    cluster();
    pull(cluster.member(0));
    cluster.settleBucket();

    HttpResponse<String> pinned = post(cluster.member(0), "/api/pin", "{\"image\":\"" + IMAGE + "\"}");
    assertEquals(200, pinned.statusCode(), pinned.body());
    assertTrue(s3.holds(prefix + "/pins/upstream.test/" + REPOSITORY + "/" + TAG), "the pin document");
    for (TestImage.Blob content : image.allContent()) {
      assertTrue(s3.holds(pinnedKey(content)), "a pinned copy of " + content.digest());
    }

    int expired = s3.removeUnder(prefix + "/blobs/");
    assertEquals(image.allContent().size(), expired, "the lifecycle rule expired every blob and manifest");
    int upstreamBefore = cluster.upstream().requests().size();

    TestCistern emptyDisk = cluster.startNewcomer();
    pull(emptyDisk);
    assertEquals(upstreamBefore, cluster.upstream().requests().size(), "the pinned copies served it, not the upstream: "
        + cluster.upstream().requests());

    HttpResponse<String> unpinned = post(cluster.member(0), "/api/unpin", "{\"image\":\"" + IMAGE + "\"}");
    assertEquals(200, unpinned.statusCode(), unpinned.body());
    assertFalse(s3.holds(prefix + "/pins/upstream.test/" + REPOSITORY + "/" + TAG), "the pin document went");
    for (TestImage.Blob content : image.allContent()) {
      assertFalse(s3.holds(pinnedKey(content)), "and the pinned copy of " + content.digest());
    }
  }

  @Test
  void unpinningKeepsWhatAnotherPinStillNeeds() throws Exception {
    cluster();
    pull(cluster.member(0));
    pull(cluster.member(1));
    cluster.settleBucket();
    String byDigest = "upstream.test/" + REPOSITORY + "@" + image.digest();
    assertEquals(200, post(cluster.member(0), "/api/pin", "{\"image\":\"" + IMAGE + "\"}").statusCode());
    assertEquals(200, post(cluster.member(1), "/api/pin", "{\"image\":\"" + byDigest + "\"}").statusCode(),
        "pinned again, by digest, on the other member");

    assertEquals(200, post(cluster.member(0), "/api/unpin", "{\"image\":\"" + IMAGE + "\"}").statusCode());
    for (TestImage.Blob content : image.allContent()) {
      assertTrue(s3.holds(pinnedKey(content)), "the other pin keeps " + content.digest());
    }
  }

  @Test
  void aPurgeRemovesTheTagDocumentsAndIsRefusedWhilePinnedElsewhere() throws Exception {
    cluster();
    pull(cluster.member(0));
    pull(cluster.member(1));
    cluster.settleBucket();
    String tagDocument = prefix + "/tags/upstream.test/" + REPOSITORY + "/" + TAG;
    assertTrue(s3.holds(tagDocument));

    assertEquals(200, post(cluster.member(0), "/api/pin", "{\"image\":\"" + IMAGE + "\"}").statusCode());
    HttpResponse<String> refused = post(cluster.member(1), "/api/purge", "{\"image\":\"" + IMAGE + "\"}");
    assertEquals(409, refused.statusCode(), "pinned on member 0, so member 1 may not purge it: " + refused.body());
    assertTrue(s3.holds(tagDocument), "and its tag document stays");
    assertEquals(200, post(cluster.member(0), "/api/unpin", "{\"image\":\"" + IMAGE + "\"}").statusCode());

    HttpResponse<String> purged = post(cluster.member(1), "/api/purge", "{\"image\":\"" + IMAGE + "\"}");
    assertEquals(200, purged.statusCode(), purged.body());
    assertFalse(s3.holds(tagDocument), "no member resolves the purged tag from the bucket");
    // A purge is of one member's disk and the bucket's documents: member 0 still holds the image
    // (and, owning the repository or not, would answer for it) until it is purged there too.
    assertEquals(200, post(cluster.member(0), "/api/purge", "{\"image\":\"" + IMAGE + "\"}").statusCode());

    long manifestGetsBefore = upstreamManifestGets();
    pull(cluster.startNewcomer());
    assertEquals(manifestGetsBefore + 1, upstreamManifestGets(), "a fresh member's pull by tag went upstream: "
        + cluster.upstream().requests());
  }

  private void pull(TestCistern member) throws Exception {
    assertServesManifest(member, MANIFEST_PATH, image);
    for (TestImage.Blob blob : image.blobs()) {
      HttpResponse<byte[]> response = member.get("/v2/" + REPOSITORY + "/blobs/" + blob.digest());
      assertEquals(200, response.statusCode(), blob.digest().toString());
      assertArrayEquals(blob.bytes(), response.body());
    }
    member.awaitDownloadsStored();
  }

  private HttpResponse<String> post(TestCistern member, String path, String json) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + member.cistern().adminAddress().getPort() + path);
    return http.send(HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private String pinnedKey(TestImage.Blob content) {
    return prefix + "/pinned/sha256/" + content.digest().hex();
  }

  private long upstreamManifestGets() {
    return cluster.upstream().count("GET", path -> path.contains("/manifests/"));
  }
}
