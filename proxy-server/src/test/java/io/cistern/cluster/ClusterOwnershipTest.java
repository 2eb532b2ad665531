package io.cistern.cluster;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.BlobStream;
import io.cistern.testing.BoundedClients;
import io.cistern.testing.ClusterPerTest;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCluster;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * One upstream fetch per blob across a cluster of three Cisterns in this JVM, with a real
 * Distribution upstream: the blob's owner alone downloads it and streams it to the other members
 * while it does; an owner that refuses or is cut mid-body is replaced by the next member in order,
 * resuming by {@code Range}; member requests need the cluster's token and are never passed on.
 *
 * <p>Where a test must know that requests overlap a download, the upstream's relay holds its
 * answer after {@link #HOLD} bytes until the test releases it: no clock decides anything.
 */
@Timeout(value = 120, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ClusterOwnershipTest {

  private static final int HOLD = 256 * 1024;
  private static final String REPOSITORY = "team/blobs";

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static final List<TestImage.Blob> blobs = List.of(TestImage.Blob.random(1, 4 << 20),
      TestImage.Blob.random(2, 4 << 20), TestImage.Blob.random(3, 4 << 20), TestImage.Blob.random(4, 4 << 20),
      TestImage.Blob.random(5, 4 << 20), TestImage.Blob.random(6, 4 << 20));

  @RegisterExtension
  final ClusterPerTest clusters = new ClusterPerTest(upstream);

  @RegisterExtension
  final BoundedClients clients = new BoundedClients();

  @TempDir
  Path temp;

  private TestCluster cluster;

  @BeforeAll
  static void seed() throws Exception {
    for (TestImage.Blob blob : blobs) {
      upstream.pushBlob(REPOSITORY, blob.bytes());
    }
  }

  private TestCluster cluster(int size) throws Exception {
    cluster = clusters.start(size);
    return cluster;
  }

  @Test
  void theOwnerAloneFetchesFromTheUpstreamAndEveryMemberServesItsClientsWhileItDownloads() throws Exception {
    cluster(3);
    TestImage.Blob blob = blobs.get(0);
    List<Integer> order = cluster.order(blob.digest().toString());
    cluster.upstream().holdAfter(HOLD);

    List<CompletableFuture<BlobStream>> streams = new ArrayList<>();
    for (int member = 0; member < 3; member++) {
      for (int client = 0; client < 2; client++) {
        streams.add(clients.openLater(blobUri(cluster.member(member), blob)));
      }
    }
    // Every client of every member has bytes while the upstream is still held: the other members
    // follow the owner's download as it runs, and their clients follow theirs.
    CompletableFuture.allOf(streams.toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
    cluster.upstream().release();

    for (CompletableFuture<BlobStream> stream : streams) {
      assertEquals(200, stream.join().status());
      assertArrayEquals(blob.bytes(), stream.join().finish());
    }
    assertEquals(1, upstreamGets(blob), "one upstream GET for the whole cluster");
    int owner = order.get(0);
    assertEquals(2, cluster.memberRequests(owner, "GET", blob.digest().toString()), "each other member asked the owner once");
    for (int other : order.subList(1, 3)) {
      assertEquals(0, cluster.memberRequests(other, "GET", blob.digest().toString()), "no one asked a member that does not own it");
      Scrape metrics = Scrape.parse(cluster.member(other).admin("/metrics").body());
      assertEquals(2L * blob.bytes().length, metrics.value("cistern_served_bytes_total", "source", "member"),
          "its two clients' bytes came from the owner");
      assertEquals(0, metrics.value("cistern_served_bytes_total", "source", "upstream"));
    }
    Scrape ownerMetrics = Scrape.parse(cluster.member(owner).admin("/metrics").body());
    assertEquals(2L * blob.bytes().length + 2L * blob.bytes().length,
        ownerMetrics.value("cistern_served_bytes_total", "source", "upstream"),
        "the owner's two clients and the two members it served followed its upstream download");
  }

  @Test
  void aClusterSpreadsOwnershipSoDistinctBlobsAreEachFetchedOnceByTheirOwners() throws Exception {
    cluster(3);
    List<CompletableFuture<HttpResponse<byte[]>>> responses = new ArrayList<>();
    for (TestImage.Blob blob : blobs) {
      for (int member = 0; member < 3; member++) {
        responses.add(clients.sendLater("GET", blobUri(cluster.member(member), blob)));
      }
    }
    for (int i = 0; i < responses.size(); i++) {
      HttpResponse<byte[]> response = responses.get(i).get(60, TimeUnit.SECONDS);
      assertEquals(200, response.statusCode());
      assertArrayEquals(blobs.get(i / 3).bytes(), response.body());
    }
    for (TestImage.Blob blob : blobs) {
      assertEquals(1, upstreamGets(blob), "one upstream GET per blob");
    }
  }

  @Test
  void anOwnerCutMidBodyIsReplacedByTheNextMemberWhichResumesWithOneMoreUpstreamGet() throws Exception {
    cluster(3);
    TestImage.Blob blob = blobs.get(1);
    List<Integer> order = cluster.order(blob.digest().toString());
    int owner = order.get(0);
    int next = order.get(1);
    int asking = order.get(2);
    BlobStream stream = openThenCutTheOwner(blob, asking, owner);

    assertEquals(200, stream.status());
    assertArrayEquals(blob.bytes(), stream.finish(), "the client's pull completes, through the next member");
    assertEquals(2, upstreamGets(blob), "the owner's GET, and the next member's");
    CountingRelay.Request resumed = gets(cluster.relay(next), blob).get(0);
    assertTrue(resumed.headerLines().stream().anyMatch(line -> line.toLowerCase().startsWith("range: bytes=")),
        "the asking member resumed from the bytes it had: " + resumed.headerLines());
    assertFalse(cluster.member(asking).cistern().cluster().membership().live().contains(cluster.memberName(owner)),
        "the member that cut its answer is down for the asker");
  }

  @Test
  void whenTheNextInOrderIsTheAskingMemberItResumesFromTheUpstreamItself() throws Exception {
    cluster(3);
    TestImage.Blob blob = blobs.get(2);
    List<Integer> order = cluster.order(blob.digest().toString());
    int owner = order.get(0);
    int asking = order.get(1);
    BlobStream stream = openThenCutTheOwner(blob, asking, owner);

    assertArrayEquals(blob.bytes(), stream.finish());
    List<CountingRelay.Request> gets = gets(cluster.upstream(), blob);
    assertEquals(2, gets.size(), "the owner's GET, and the asker's own");
    assertTrue(gets.stream().anyMatch(get -> get.hasHeader("Range")), "the asker's GET resumes by Range");
    assertEquals(0, cluster.memberRequests(order.get(2), "GET", blob.digest().toString()),
        "no member ranked below the asker is asked");
  }

  @Test
  void anOwnerThatRefusesConnectionsIsHashedAroundWithNoExtraUpstreamGet() throws Exception {
    cluster(3);
    TestImage.Blob blob = blobs.get(3);
    List<Integer> order = cluster.order(blob.digest().toString());
    cluster.relay(order.get(0)).goDown();

    HttpResponse<byte[]> response = clients.get(blobUri(cluster.member(order.get(2)), blob));

    assertEquals(200, response.statusCode());
    assertArrayEquals(blob.bytes(), response.body());
    assertEquals(1, upstreamGets(blob), "the next member in order fetched it, once");
    assertEquals(1, cluster.memberRequests(order.get(1), "GET", blob.digest().toString()));
  }

  @Test
  void aMemberRequestWithAWrongTokenIsRefusedAndServedNothing() throws Exception {
    cluster(2);
    TestImage.Blob blob = blobs.get(4);
    for (int member = 0; member < 2; member++) {
      HttpResponse<byte[]> response = clients.get(blobUri(cluster.member(member), blob), "Cistern-Member", "not-the-token");
      assertEquals(401, response.statusCode());
      assertTrue(new String(response.body()).contains("UNAUTHORIZED"), new String(response.body()));
      assertEquals(401, clients.get(cluster.member(member).url("/v2/"), "Cistern-Member", "not-the-token").statusCode(),
          "not even a probe");
    }
    assertEquals(List.of(), cluster.upstream().requests(), "nothing reached the upstream");
  }

  @Test
  void aCisternInNoClusterRefusesEveryMemberRequest() throws Exception {
    try (CountingRelay relay = CountingRelay.to(upstream.port());
         TestCistern single = TestCistern.forUpstream(temp.resolve("single"), relay.url())) {
      assertEquals(401, clients.get(blobUri(single, blobs.get(4)), "Cistern-Member", TestCluster.TOKEN).statusCode());
      assertEquals(List.of(), relay.requests());
    }
  }

  @Test
  void aMemberRequestIsNeverPassedOnWhoeverOwnsTheBlob() throws Exception {
    cluster(3);
    TestImage.Blob blob = blobs.get(5);
    List<Integer> order = cluster.order(blob.digest().toString());
    int notOwner = order.get(2);

    HttpResponse<byte[]> response = clients.get(blobUri(cluster.member(notOwner), blob), "Cistern-Member", TestCluster.TOKEN);

    assertEquals(200, response.statusCode());
    assertArrayEquals(blob.bytes(), response.body());
    assertEquals(1, upstreamGets(blob), "the member asked fetched it from its upstream itself");
    for (int member = 0; member < 3; member++) {
      assertEquals(0, cluster.memberRequests(member, "GET", blob.digest().toString()),
          "no member request went on to member " + member);
    }
  }

  /**
   * Opens {@code blob} at member {@code asking} while the upstream holds it mid-body, so the asker
   * has part of it from {@code owner}; the owner then vanishes from the network and the upstream
   * goes on.
   */
  private BlobStream openThenCutTheOwner(TestImage.Blob blob, int asking, int owner) throws Exception {
    cluster.upstream().holdAfter(HOLD);
    BlobStream stream = clients.open(blobUri(cluster.member(asking), blob));
    cluster.relay(owner).goDown();
    cluster.upstream().release();
    return stream;
  }

  /** The GETs of {@code blob} that reached {@code relay}: a member's, or the upstream's. */
  private static List<CountingRelay.Request> gets(CountingRelay relay, TestImage.Blob blob) {
    return relay.requests().stream()
        .filter(request -> request.method().equals("GET") && request.path().endsWith(blob.digest().toString())).toList();
  }

  private long upstreamGets(TestImage.Blob blob) {
    return cluster.upstreamGets(blob.digest());
  }

  private static URI blobUri(TestCistern member, TestImage.Blob blob) {
    return member.url("/v2/" + REPOSITORY + "/blobs/" + blob.digest());
  }
}
