package io.cistern.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.testing.ClusterPerTest;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealBucket;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCluster;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.slf4j.LoggerFactory;

/**
 * The bucket as the cluster's shared tier, on a real S3-API server (s3proxy, in this JVM): what
 * a member fetched from the upstream is uploaded once verified, a member with an empty disk fills
 * from the bucket without the upstream, a redirect sends a client to the bucket itself, and a
 * bucket that cannot be reached costs nothing but itself.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterBucketTest {

  private static final String REPOSITORY = "team/blobs";
  private static final ObjectMapper JSON = new ObjectMapper();

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @RegisterExtension
  static final RealBucket s3 = new RealBucket();

  private static final List<TestImage.Blob> blobs = List.of(TestImage.Blob.random(1, 3 << 20),
      TestImage.Blob.random(2, 300_000), TestImage.Blob.random(3, 300_000), TestImage.Blob.random(4, 300_000));

  @RegisterExtension
  final ClusterPerTest clusters = new ClusterPerTest(upstream);

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private TestCluster cluster;
  private ListAppender<ILoggingEvent> bucketLog;

  @BeforeAll
  static void seed() throws Exception {
    for (TestImage.Blob blob : blobs) {
      upstream.pushBlob(REPOSITORY, blob.bytes());
    }
  }

  @AfterEach
  void detachTheBucketLog() {
    if (bucketLog != null) {
      ((Logger) LoggerFactory.getLogger(BucketHealth.class)).detachAppender(bucketLog);
    }
  }

  private TestCluster cluster(int size, URI bucket, String bucketYaml) throws Exception {
    cluster = clusters.start(size, bucket, Clock.systemUTC(), "", bucketYaml);
    return cluster;
  }

  @Test
  void aMemberWithAnEmptyDiskFillsFromTheBucketWithoutTheUpstream() throws Exception {
    cluster(2, s3.endpoint(), "");
    TestImage.Blob blob = blobs.get(0);
    assertOk(blob, get(cluster.member(0), blob));
    cluster.settleBucket();
    int owner = cluster.order(blob.digest().toString()).get(0);
    assertEquals(1, metrics(cluster.member(owner)).value("cistern_bucket_uploads_total", "outcome", "stored"),
        "the owner uploaded what it fetched");
    assertTrue(s3.holds(objectOf(blob)), "the bucket holds it under its digest");
    long before = cluster.upstream().requests().size();
    long memberGets = cluster.memberRequests(0, "GET", blob.digest().toString())
        + cluster.memberRequests(1, "GET", blob.digest().toString());

    TestCistern newcomer = cluster.startNewcomer();
    assertOk(blob, get(newcomer, blob));
    // The client has the last byte once it is verified; the file is published after.
    newcomer.awaitDownloadsStored();

    assertEquals(before, cluster.upstream().requests().size(), "no upstream request for a blob the bucket holds");
    // The client had the blob once it was verified; it is stored just after (off the client's path).
    newcomer.cistern().blobs().downloadsFinished().get(30, TimeUnit.SECONDS);
    assertTrue(Files.isRegularFile(newcomer.cistern().cache().blobs().pathOf(blob.digest())), "filled into its own tier");
    assertEquals(1, metrics(newcomer).value("cistern_bucket_fills_total"));
    assertEquals(blob.bytes().length, metrics(newcomer).value("cistern_served_bytes_total", "source", "bucket"),
        "its client's bytes are counted as the bucket's");
    assertEquals(0, metrics(newcomer).value("cistern_served_bytes_total", "source", "upstream"));
    assertEquals(memberGets, cluster.memberRequests(0, "GET", blob.digest().toString())
        + cluster.memberRequests(1, "GET", blob.digest().toString()), "the newcomer asked no member: the bucket had it");
  }

  @Test
  void aClientIsRedirectedToAPresignedUrlThatAPlainClientCanGet() throws Exception {
    cluster(1, s3.endpoint(), "redirect: true\npresignTtl: 2m");
    TestImage.Blob blob = blobs.get(1);
    assertOk(blob, get(cluster.member(0), blob));
    cluster.settleBucket();
    assertOk(blob, get(cluster.member(0), blob));

    TestCistern newcomer = cluster.startNewcomer();
    HttpResponse<byte[]> redirect = get(newcomer, blob);
    assertEquals(307, redirect.statusCode());
    URI location = URI.create(redirect.headers().firstValue("Location").orElseThrow());
    assertEquals(s3.endpoint().getPort(), location.getPort(), "to the bucket itself");
    assertTrue(location.getQuery().contains("X-Amz-Expires=120"), location.toString());
    assertEquals(blob.digest().toString(), redirect.headers().firstValue("Docker-Content-Digest").orElseThrow());

    HttpResponse<byte[]> fromBucket = http.send(HttpRequest.newBuilder(location).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertOk(blob, fromBucket);
    assertFalse(Files.exists(newcomer.cistern().cache().blobs().pathOf(blob.digest())), "the newcomer served no byte itself");

    TestImage.Blob notUploaded = blobs.get(2);
    assertOk(notUploaded, get(newcomer, notUploaded));
    assertEquals(200, cluster.member(0).get("/v2/" + REPOSITORY + "/blobs/" + blob.digest(), "Cistern-Member", TestCluster.TOKEN)
        .statusCode(), "a member's request is never redirected");
  }

  @Test
  void aBucketThatCannotBeReachedCostsPullsNothingAndIsReportedOnce() throws Exception {
    bucketLog = capture();
    try (CountingRelay bucket = CountingRelay.to(s3.endpoint().getPort())) {
      cluster(2, bucket.url(), "");
      assertOk(blobs.get(1), get(cluster.member(0), blobs.get(1)));
      cluster.settleBucket();
      bucket.goDown();

      for (TestImage.Blob blob : List.of(blobs.get(2), blobs.get(3), blobs.get(1))) {
        for (int member = 0; member < 2; member++) {
          assertOk(blob, get(cluster.member(member), blob));
        }
      }
      for (int member = 0; member < 2; member++) {
        HttpResponse<String> ready = cluster.member(member).admin("/readyz");
        assertEquals(200, ready.statusCode(), "a member does without the bucket: still ready");
        JsonNode report = JSON.readTree(ready.body());
        assertTrue(report.path("ready").asBoolean());
        assertTrue(report.path("degraded").path("bucket").asText().startsWith("unreachable"), ready.body());
      }
      int owner = cluster.order(blobs.get(2).digest().toString()).get(0);
      assertEquals(0, metrics(cluster.member(owner)).value("cistern_bucket_up"));
      assertTrue(metrics(cluster.member(owner)).value("cistern_bucket_uploads_total", "outcome", "skipped") >= 1);
      assertEquals(1, cluster.upstreamGets(blobs.get(2).digest()),
          "still one upstream GET per blob: the members do without the bucket");
      assertEquals(2, bucketLog.list.stream().filter(event -> event.getLevel() == Level.WARN).count(),
          "said once by each member: " + bucketLog.list);

      bucket.restore();
      for (int member = 0; member < 2; member++) {
        cluster.member(member).cistern().cluster().bucket().probeNow().join();
        assertEquals(1, metrics(cluster.member(member)).value("cistern_bucket_up"));
        JsonNode report = JSON.readTree(cluster.member(member).admin("/readyz").body());
        assertTrue(report.path("degraded").isEmpty(), report.toString());
      }
      assertEquals(2, bucketLog.list.stream().filter(event -> event.getLevel() == Level.INFO).count(),
          "and once when it is back");
    }
  }

  private String objectOf(TestImage.Blob blob) {
    return clusters.prefix() + "/blobs/sha256/" + blob.digest().hex();
  }

  private static Scrape metrics(TestCistern member) throws Exception {
    return Scrape.parse(member.admin("/metrics").body());
  }

  private HttpResponse<byte[]> get(TestCistern member, TestImage.Blob blob) throws Exception {
    return member.get("/v2/" + REPOSITORY + "/blobs/" + blob.digest());
  }

  private static void assertOk(TestImage.Blob blob, HttpResponse<byte[]> response) {
    assertEquals(200, response.statusCode());
    assertArrayEquals(blob.bytes(), response.body());
  }

  private static ListAppender<ILoggingEvent> capture() {
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    ((Logger) LoggerFactory.getLogger(BucketHealth.class)).addAppender(appender);
    return appender;
  }
}
