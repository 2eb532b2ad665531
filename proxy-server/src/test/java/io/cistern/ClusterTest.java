package io.cistern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CisternCluster;
import io.cistern.testing.CisternCluster.Member;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.CountingRelay.AnswerHold;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.S3Server;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The cluster as CI verifies it (issue 15): Cistern processes on loopback sharing an S3 bucket
 * (s3proxy) in front of a real Distribution, pulled from by skopeo, which checks every digest; the
 * tests compare the bytes too. Each test starts its own bucket and members, so each starts cold.
 */
@Timeout(value = 600, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterTest {

  private static final String REFERENCE = "1.0";

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @TempDir
  Path temp;

  private S3Server s3;
  private CisternCluster cluster;
  private final ExecutorService clients = Executors.newCachedThreadPool();

  @BeforeEach
  void startTheBucket() throws Exception {
    s3 = S3Server.start(temp.resolve("s3"));
  }

  @AfterEach
  void stopEverything() throws Exception {
    clients.shutdownNow();
    if (cluster != null) {
      cluster.close();
    }
    s3.close();
  }

  @Test
  void twentyFourConcurrentColdPullsOverThreeMembersFetchEachBlobFromTheUpstreamOnce() throws Exception {
    TestImage image = TestImage.random(1501, 3, 384 * 1024, "amd64");
    upstream.push("team/spread", REFERENCE, image);
    cluster = CisternCluster.start(temp.resolve("cluster"), upstream.port(), s3, 3);

    assertConcurrentPulls(image, "team/spread", 24, "pull-");

    for (TestImage.Blob blob : image.blobs()) {
      assertEquals(1, cluster.fullUpstreamGets(blob.digest()),
          "one upstream GET of " + blob.digest() + " for the whole cluster: " + cluster.upstreamRequests());
    }
    List<CountingRelay.Request> memberRequests = new ArrayList<>();
    cluster.members().forEach(member -> memberRequests.addAll(member.front().requests()));
    assertTrue(memberRequests.stream().anyMatch(request -> request.path().contains("/blobs/")),
        "members asked each other for blobs: " + memberRequests);
    for (CountingRelay.Request request : memberRequests) {
      assertEquals(Optional.of(CisternCluster.TOKEN), request.header("Cistern-Member"),
          "a member's request carries the member token: " + request);
      assertFalse(request.hasHeader("Authorization"), "and no client credentials: " + request);
    }
  }

  @Test
  void killingTheOwnerOfTheBiggestLayerMidDownloadCostsAtMostOneMoreUpstreamGetAndNoPull() throws Exception {
    TestImage image = TestImage.random(1502, 2, 2 << 20, "amd64");
    upstream.push("team/owner", REFERENCE, image);
    TestImage.Blob biggest = image.blobs().stream().max(Comparator.comparingInt(blob -> blob.bytes().length)).orElseThrow();
    cluster = CisternCluster.start(temp.resolve("cluster"), upstream.port(), s3, 3);
    // Whichever member downloads the biggest layer (its owner) stops 256 KiB into it.
    AnswerHold hold = AnswerHold.of(request -> request.method().equals("GET")
        && request.path().endsWith("/blobs/" + biggest.digest()), 256 * 1024);
    cluster.members().forEach(member -> member.upstream().holdAnswer(hold));

    List<CompletableFuture<Pull>> pulls = new ArrayList<>();
    for (int i = 0; i < 9; i++) {
      pulls.add(pull(cluster.member(i % 3), "team/owner", "pull-" + i));
    }
    Member owner = cluster.byUpstreamRelay(hold.engaged().get(2, TimeUnit.MINUTES).relay());
    List<Member> survivors = cluster.members().stream().filter(member -> member != owner).toList();
    // Both other members are following the owner's download when it dies.
    owner.front().awaitRequests(request -> request.method().equals("GET")
        && request.path().endsWith("/blobs/" + biggest.digest()), survivors.size()).get(2, TimeUnit.MINUTES);
    owner.kill();
    hold.release();

    for (CompletableFuture<Pull> future : pulls) {
      Pull pull = future.get(5, TimeUnit.MINUTES);
      if (pull.member() == owner) {
        // Its client lost the connection with the process; the retry goes, as a Service would
        // send it, to a live member.
        if (pull.result().exitCode() != 0) {
          pull = pull(survivors.get(0), "team/owner", pull.name() + "-retry").get(5, TimeUnit.MINUTES);
        }
      }
      assertPulled(image, pull);
    }
    long gets = cluster.fullUpstreamGets(biggest.digest()) + cluster.rangedUpstreamGets(biggest.digest());
    assertTrue(gets >= 1 && gets <= 2, "the cut download and at most one more: " + cluster.upstreamRequests());
  }

  @Test
  void aFourthMemberWithAnEmptyDiskServesTheCachedImageWithoutTheUpstream() throws Exception {
    TestImage image = TestImage.random(1503, 2, 256 * 1024, "amd64");
    upstream.push("team/fresh", REFERENCE, image);
    cluster = CisternCluster.start(temp.resolve("cluster"), upstream.port(), s3, 3);
    assertConcurrentPulls(image, "team/fresh", cluster.members().size(), "warm-");
    // The bucket's copies are written after the clients were served: wait for each to land.
    for (TestImage.Blob content : image.allContent()) {
      s3.stored(CisternCluster.bucketKey(content.digest())).get(2, TimeUnit.MINUTES);
    }
    s3.stored(CisternCluster.BUCKET_PREFIX + "tags/" + CisternCluster.UPSTREAM + "/team/fresh/" + REFERENCE).get(2, TimeUnit.MINUTES);
    int upstreamBefore = cluster.upstreamRequests().size();
    int distributionBefore = upstream.accessLog().size();

    Member fourth = cluster.join();
    assertPulled(image, pull(fourth, "team/fresh", "fourth").get(5, TimeUnit.MINUTES));

    assertEquals(List.of(), fourth.upstream().requests(), "the new member never went upstream");
    assertEquals(upstreamBefore, cluster.upstreamRequests().size(), "nor did any other for it: " + cluster.upstreamRequests());
    assertEquals(distributionBefore, upstream.accessLog().size());
    for (TestImage.Blob blob : image.blobs()) {
      assertTrue(s3.reads(CisternCluster.bucketKey(blob.digest())) >= 1, "read from the bucket: " + blob.digest());
    }
  }

  @Test
  void withTheBucketStoppedPullsGoOnThroughLocalTiersAndTheUpstreamAndReadyzSaysWhy() throws Exception {
    TestImage image = TestImage.random(1504, 2, 256 * 1024, "amd64");
    upstream.push("team/nobucket", REFERENCE, image);
    cluster = CisternCluster.start(temp.resolve("cluster"), upstream.port(), s3, 3);
    s3.stop();

    assertConcurrentPulls(image, "team/nobucket", 6, "pull-");
    for (Member member : cluster.members()) {
      HttpResponse<String> ready = member.readyz();
      assertEquals(200, ready.statusCode(), member + ": a failing probe would drain every member at once");
      assertTrue(ready.body().toLowerCase(Locale.ROOT).contains("bucket"), member + " says why: " + ready.body());
      assertEquals(0, member.metrics().value("cistern_bucket_up"), member + ": the bucket is down in the metrics");
    }
  }

  // ---- pulls ----

  private record Pull(String name, Member member, Path out, Skopeo.Result result) {}

  /** skopeo copies {@code repository:1.0} from {@code member} into a directory of its own. */
  private CompletableFuture<Pull> pull(Member member, String repository, String name) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        Path out = Files.createDirectories(temp.resolve("pulls")).resolve(name);
        Skopeo skopeo = new Skopeo(temp.resolve("skopeo").resolve(name));
        Skopeo.Result result = skopeo.run("--insecure-policy", "copy", "--src-tls-verify=false",
            "docker://" + member.hostPort() + "/" + repository + ":" + REFERENCE, "dir:" + out);
        return new Pull(name, member, out, result);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, clients);
  }

  /**
   * Starts {@code count} pulls of {@code repository} at once, spread over the members in turn (pull
   * {@code i} from member {@code i % members}, named {@code <name><i>}), and asserts each pulled
   * {@code image}.
   */
  private void assertConcurrentPulls(TestImage image, String repository, int count, String name) throws Exception {
    List<CompletableFuture<Pull>> pulls = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      pulls.add(pull(cluster.members().get(i % cluster.members().size()), repository, name + i));
    }
    for (CompletableFuture<Pull> pull : pulls) {
      assertPulled(image, pull.get(5, TimeUnit.MINUTES));
    }
  }

  private static void assertPulled(TestImage image, Pull pull) throws IOException {
    assertEquals(0, pull.result().exitCode(), pull.name() + " from " + pull.member() + ":\n" + pull.result().output());
    assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(pull.out().resolve("manifest.json")), pull.name());
    for (TestImage.Blob blob : image.blobs()) {
      assertArrayEquals(blob.bytes(), Files.readAllBytes(pull.out().resolve(blob.digest().hex())),
          pull.name() + ": " + blob.digest());
    }
  }
}
