package io.cistern.cluster;

import static io.cistern.testing.PullAssertions.assertServesManifest;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.TagKey;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import io.cistern.testing.ClusterPerTest;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealBucket;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.S3Server;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCluster;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * Retention in the bucket, with a real Distribution upstream and a real S3-API server: a pin made
 * on one member keeps the image in the cluster when the lifecycle rule has expired everything
 * under {@code blobs/} (a member with an empty disk still serves it without the upstream), an
 * unpin removes the pinned copies, and a purge removes the bucket's tag documents (a fresh member
 * goes to the upstream for the tag), and is refused for an image pinned on another member. An
 * unpin racing a pin of an image that shares content with it is driven through its worst
 * interleaving, the S3 server holding the unpin's delete while the other member pins: the shared
 * copy is restored, from {@code blobs/} or the unpinning member's disk, or said to be gone. A
 * member that did not pin an image unpins it from the bucket, by tag or digest, whether it caches
 * the image or not, and names the image the pin document pinned.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterRetentionTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String REPOSITORY = "team/kept";
  private static final String TAG = "1.0";
  private static final String IMAGE = "upstream.test/" + REPOSITORY + ":" + TAG;
  private static final String MANIFEST_PATH = "/v2/" + REPOSITORY + "/manifests/" + TAG;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @RegisterExtension
  static final RealBucket s3 = new RealBucket();

  private static final TestImage image = TestImage.random(2101, 2, 200 * 1024, "amd64");
  private static final String SHARING_TAG = "2.0";
  private static final String SHARING_IMAGE = "upstream.test/" + REPOSITORY + ":" + SHARING_TAG;
  /** Another image of the repository, with {@link #image}'s layers. */
  private static final TestImage sharing = image.sharingLayers(2102, "amd64");
  /** The layer whose pinned copy the race is about. */
  private static final TestImage.Blob shared = image.blobs().get(1);
  /** A tag pushed as {@link #image}, then moved to {@link #moved}, by the one test about it. */
  private static final String MOVING_TAG = "moving";
  private static final String MOVING_IMAGE = "upstream.test/" + REPOSITORY + ":" + MOVING_TAG;
  private static final TestImage moved = image.sharingLayers(2103, "amd64");

  @RegisterExtension
  final ClusterPerTest clusters = new ClusterPerTest(upstream);

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private TestCluster cluster;
  private String prefix;

  @BeforeAll
  static void seed() throws Exception {
    upstream.push(REPOSITORY, TAG, image);
    upstream.push(REPOSITORY, SHARING_TAG, sharing);
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
    // The tag's pin is gone from the whole cluster: member 1, which pinned by digest, finds none.
    HttpResponse<String> again = post(cluster.member(1), "/api/unpin", imageJson(IMAGE));
    assertEquals(404, again.statusCode(), again.body());
    assertTrue(again.body().contains("nothing is pinned under " + IMAGE + " on this member or in the cluster's bucket"),
        again.body());
    for (TestImage.Blob content : image.allContent()) {
      assertTrue(s3.holds(pinnedKey(content)), "the other pin keeps " + content.digest());
    }
  }

  @Test
  void anUnpinRacingAPinOfAnImageSharingItsLayersLeavesTheSharedCopies() throws Exception {
    cluster();
    pull(cluster.member(0));
    pull(cluster.member(1), SHARING_TAG, sharing);
    cluster.settleBucket();
    assertEquals(200, post(cluster.member(0), "/api/pin", imageJson(IMAGE)).statusCode());

    unpinWhilePinning(0, 1, SHARING_IMAGE, shared);

    for (TestImage.Blob layer : sharing.blobs().subList(1, sharing.blobs().size())) {
      assertTrue(s3.holds(pinnedKey(layer)), "restored from blobs/ for the other pin: " + layer.digest());
    }
    assertFalse(s3.holds(pinnedKey(image.blobs().get(0))), "the unpinned image's own config went");
    assertFalse(s3.holds(pinnedKey(image.manifest())), "and its manifest");
  }

  @Test
  void aSharedCopyThatBlobsNoLongerHoldsIsRestoredFromTheUnpinningMembersDisk() throws Exception {
    cluster();
    pull(cluster.member(0));
    pull(cluster.member(1), SHARING_TAG, sharing);
    cluster.settleBucket();
    assertEquals(200, post(cluster.member(0), "/api/pin", imageJson(IMAGE)).statusCode());
    s3.removeUnder(prefix + "/blobs/");

    unpinWhilePinning(0, 1, SHARING_IMAGE, shared);

    assertTrue(s3.holds(pinnedKey(shared)), "restored for the other pin");
    assertFalse(s3.holds(prefix + "/blobs/sha256/" + shared.digest().hex()), "not from blobs/: uploaded from member 0's disk");
  }

  @Test
  void aSharedCopyNeitherBlobsNorTheUnpinningMemberHoldsIsGoneUntilPinnedAgain() throws Exception {
    cluster();
    // The image is pinned where it is whole, on the layer's owner, and unpinned on the other
    // member, which holds its manifest only: the layer never reached that member's disk.
    int pinner = cluster.order(shared.digest().toString()).get(0);
    int unpinner = 1 - pinner;
    pull(cluster.member(pinner));
    pull(cluster.member(pinner), SHARING_TAG, sharing);
    assertServesManifest(cluster.member(unpinner), MANIFEST_PATH, image);
    cluster.settleBucket();
    assertEquals(200, post(cluster.member(pinner), "/api/pin", imageJson(IMAGE)).statusCode());
    s3.removeUnder(prefix + "/blobs/");
    Logger pinsLogger = (Logger) LoggerFactory.getLogger(BucketPins.class);
    ListAppender<ILoggingEvent> pinsLog = new ListAppender<>();
    pinsLog.start();
    pinsLogger.addAppender(pinsLog);
    try {
      unpinWhilePinning(unpinner, pinner, SHARING_IMAGE, shared);
    } finally {
      pinsLogger.detachAppender(pinsLog);
    }

    assertFalse(s3.holds(pinnedKey(shared)), "neither blobs/ nor the unpinning member had it to restore");
    assertTrue(pinsLog.list.stream().anyMatch(event -> event.getLevel() == Level.WARN
        && event.getFormattedMessage().contains(shared.digest().toString())
        && event.getFormattedMessage().contains(SHARING_IMAGE)), "said, naming the image to pin again: " + pinsLog.list);
    assertEquals(200, post(cluster.member(pinner), "/api/pin", imageJson(SHARING_IMAGE)).statusCode());
    assertTrue(s3.holds(pinnedKey(shared)), "pinning that image again restores it");
  }

  @Test
  void aSharedManifestRestoredFromTheUnpinningMembersDiskKeepsItsMediaType() throws Exception {
    cluster();
    pull(cluster.member(0));
    pull(cluster.member(1));
    cluster.settleBucket();
    assertEquals(200, post(cluster.member(0), "/api/pin", imageJson(IMAGE)).statusCode());
    s3.removeUnder(prefix + "/blobs/");

    unpinWhilePinning(0, 1, "upstream.test/" + REPOSITORY + "@" + image.digest(), image.manifest());

    assertTrue(s3.holds(pinnedKey(image.manifest())), "restored for the pin by digest");
    assertEquals(MediaTypes.OCI_MANIFEST, s3.contentType(pinnedKey(image.manifest())),
        "uploaded with its media type, as the catalog of member 0 has it");
  }

  @Test
  void aManifestRestoredAfterItsPinnedTagMovedKeepsItsMediaType() throws Exception {
    // Member 1 unpins a tag member 0 pinned, which has moved since. Member 1 never pinned the
    // image, and resolves the tag to the manifest it names now, which the pin document does not
    // list: the manifest to restore is known to it by digest alone, its media type from its cache.
    pinOnMember0ThenMoveTheTagOnMember1();
    cluster.settleBucket();
    s3.removeUnder(prefix + "/blobs/");
    assertFalse(cluster.member(1).cistern().cache().catalog().isPinnedImage(image.digest()),
        "member 1 never pinned the image");

    unpinWhilePinning(1, MOVING_IMAGE, 0, "upstream.test/" + REPOSITORY + "@" + image.digest(), image.manifest());

    assertTrue(s3.holds(pinnedKey(image.manifest())), "the pinned manifest is restored for the pin by digest");
    assertEquals(MediaTypes.OCI_MANIFEST, s3.contentType(pinnedKey(image.manifest())),
        "uploaded with its media type, as member 1's cache recorded it on the manifest's digest");
  }

  @Test
  void unpinningATagPinnedOnlyInTheBucketNamesTheImageItsDocumentPinned() throws Exception {
    pinOnMember0ThenMoveTheTagOnMember1();

    HttpResponse<String> unpinned = post(cluster.member(1), "/api/unpin", imageJson(MOVING_IMAGE));

    assertEquals(200, unpinned.statusCode(), unpinned.body());
    assertEquals(image.digest().toString(), JSON.readTree(unpinned.body()).get("digest").asText(),
        "the image the pin document pinned, not the one the tag names now");
    assertFalse(s3.holds(pinDocument(MOVING_TAG)), "the pin document went");
    assertFalse(s3.holds(pinnedKey(image.manifest())), "and the pinned manifest");
  }

  @Test
  void aMemberThatNeverCachedAnImageUnpinsItsPinsFromTheBucket() throws Exception {
    cluster();
    pull(cluster.member(0));
    cluster.settleBucket();
    String byDigest = "upstream.test/" + REPOSITORY + "@" + image.digest();
    assertEquals(200, post(cluster.member(0), "/api/pin", imageJson(IMAGE)).statusCode());
    assertEquals(200, post(cluster.member(0), "/api/pin", imageJson(byDigest)).statusCode());
    TestCistern newcomer = cluster.startNewcomer();
    TagKey tag = new TagKey("upstream.test", RepositoryName.of(REPOSITORY), new Tag(TAG));
    assertTrue(newcomer.cistern().cache().tags().find(tag).isEmpty(), "the tag is not cached there");

    HttpResponse<String> byTag = post(newcomer, "/api/unpin", imageJson(IMAGE));

    assertEquals(200, byTag.statusCode(), byTag.body());
    assertEquals(image.digest().toString(), JSON.readTree(byTag.body()).get("digest").asText(),
        "the image the pin document pinned");
    assertFalse(s3.holds(pinDocument(TAG)), "the tag's pin document went");
    for (TestImage.Blob content : image.allContent()) {
      assertTrue(s3.holds(pinnedKey(content)), "the pin by digest keeps " + content.digest());
    }

    HttpResponse<String> digestUnpinned = post(newcomer, "/api/unpin", imageJson(byDigest));

    assertEquals(200, digestUnpinned.statusCode(), digestUnpinned.body());
    assertFalse(s3.holds(pinDocument(image.digest().toString())), "the digest's pin document went");
    for (TestImage.Blob content : image.allContent()) {
      assertFalse(s3.holds(pinnedKey(content)), "no pin lists " + content.digest() + " any more");
    }
    HttpResponse<String> again = post(newcomer, "/api/unpin", imageJson(byDigest));
    assertEquals(404, again.statusCode(), again.body());
    assertEquals("nothing pins " + byDigest + " on this member, nor is it pinned by its digest in the cluster's"
        + " bucket, so nothing was unpinned", JSON.readTree(again.body()).get("error").asText());
  }

  /**
   * Member 0 pins {@link #MOVING_IMAGE} while it names {@link #image}; the tag then moves to
   * {@link #moved}, and member 1, past the tag's TTL, resolves it to the moved manifest.
   */
  private void pinOnMember0ThenMoveTheTagOnMember1() throws Exception {
    upstream.push(REPOSITORY, MOVING_TAG, image);
    MutableClock clock = new MutableClock(Instant.now());
    // Blocking revalidation: the pull past the TTL is answered with the moved tag.
    cluster = clusters.start(2, s3.endpoint(), clock, "tagTtl: 1m\ntagRevalidation: blocking\n", "");
    prefix = clusters.prefix();
    pull(cluster.member(0), MOVING_TAG, image);
    pull(cluster.member(1), MOVING_TAG, image);
    cluster.settleBucket();
    assertEquals(200, post(cluster.member(0), "/api/pin", imageJson(MOVING_IMAGE)).statusCode());
    upstream.push(REPOSITORY, MOVING_TAG, moved);
    clock.advance(Duration.ofMinutes(2));
    pull(cluster.member(1), MOVING_TAG, moved); // member 1 resolves the tag to the moved manifest now
  }

  private String pinDocument(String reference) {
    return prefix + "/pins/upstream.test/" + REPOSITORY + "/" + reference;
  }

  /** The last part of a pin document's name: the reference's digest, else its tag. */
  private static String pinName(String reference) {
    int at = reference.indexOf('@');
    return at >= 0 ? reference.substring(at + 1) : reference.substring(reference.lastIndexOf(':') + 1);
  }

  private void unpinWhilePinning(int unpinner, int pinner, String reference, TestImage.Blob held) throws Exception {
    unpinWhilePinning(unpinner, IMAGE, pinner, reference, held);
  }

  /**
   * Unpins {@code unpinned} on {@code unpinner} while {@code pinner} pins {@code reference},
   * document and copies, at the worst moment: after the unpin read the pin documents, before it
   * removed the pinned copy of {@code held}, which both images share. The S3 server holds that
   * removal until the pin has answered.
   */
  private void unpinWhilePinning(int unpinner, String unpinned, int pinner, String reference,
      TestImage.Blob held) throws Exception {
    S3Server.RemovalHold removal = s3.holdRemoval(pinnedKey(held));
    try {
      CompletableFuture<HttpResponse<String>> unpinning = http.sendAsync(
          request(cluster.member(unpinner), "/api/unpin", imageJson(unpinned)), HttpResponse.BodyHandlers.ofString());
      CompletableFuture.anyOf(removal.arrived(), unpinning).join();
      assertTrue(removal.arrived().isDone(), () -> "the unpin removes the shared copy: " + unpinning.join().body());

      HttpResponse<String> pinned = post(cluster.member(pinner), "/api/pin", imageJson(reference));
      assertEquals(200, pinned.statusCode(), pinned.body());
      assertTrue(s3.holds(prefix + "/pins/upstream.test/" + REPOSITORY + "/" + pinName(reference)),
          "the other pin's document is in before the unpin's removal");
      removal.release();
      HttpResponse<String> done = unpinning.join();
      assertEquals(200, done.statusCode(), done.body());
    } finally {
      removal.release();
    }
    assertFalse(s3.holds(prefix + "/pins/upstream.test/" + REPOSITORY + "/" + pinName(unpinned)),
        "the unpinned image's document went");
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
    pull(member, TAG, image);
  }

  private void pull(TestCistern member, String tag, TestImage pulled) throws Exception {
    assertServesManifest(member, "/v2/" + REPOSITORY + "/manifests/" + tag, pulled);
    for (TestImage.Blob blob : pulled.blobs()) {
      HttpResponse<byte[]> response = member.get("/v2/" + REPOSITORY + "/blobs/" + blob.digest());
      assertEquals(200, response.statusCode(), blob.digest().toString());
      assertArrayEquals(blob.bytes(), response.body());
    }
    member.awaitDownloadsStored();
  }

  private HttpResponse<String> post(TestCistern member, String path, String json) throws Exception {
    return http.send(request(member, path, json), HttpResponse.BodyHandlers.ofString());
  }

  private static HttpRequest request(TestCistern member, String path, String json) {
    URI uri = URI.create("http://127.0.0.1:" + member.cistern().adminAddress().getPort() + path);
    return HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString(json)).build();
  }

  private static String imageJson(String reference) {
    return "{\"image\":\"" + reference + "\"}";
  }

  private String pinnedKey(TestImage.Blob content) {
    return prefix + "/pinned/sha256/" + content.digest().hex();
  }

  private long upstreamManifestGets() {
    return cluster.upstream().count("GET", path -> path.contains("/manifests/"));
  }
}
