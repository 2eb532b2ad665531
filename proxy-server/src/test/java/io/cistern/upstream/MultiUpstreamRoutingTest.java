package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCistern.UpstreamUrl;
import io.cistern.testing.TestImage;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.SocketTimeoutException;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * One Cistern in front of two real Distribution registries holding different images under the same
 * names: {@code docker.io} (the default) and {@code ghcr.io}, both really on 127.0.0.1 behind
 * counting relays. Every way a mirror client names its upstream reaches the right one, and a name
 * Cistern does not mirror reaches nothing at all.
 */
class MultiUpstreamRoutingTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream hub = new RealUpstream();

  @RegisterExtension
  static final RealUpstream ghcr = new RealUpstream();

  private static CountingRelay toHub;
  private static CountingRelay toGhcr;
  private static TestCistern cistern;
  private static Skopeo skopeo;
  private static final TestImage onHub = TestImage.random(21, 2, 20_000, "amd64");
  private static final TestImage onGhcr = TestImage.random(22, 2, 20_000, "amd64");
  private static final TestImage official = TestImage.random(23, 1, 10_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    hub.push("team/app", "1.0", onHub);
    hub.push("library/alpine", "3", official);
    ghcr.push("team/app", "1.0", onGhcr);
    toHub = CountingRelay.to(hub.port());
    toGhcr = CountingRelay.to(ghcr.port());
    cistern = TestCistern.forUpstreams(temp.resolve("cistern"), Clock.systemUTC(), "defaultUpstream: docker.io\n",
        new UpstreamUrl("docker.io", toHub.url()), new UpstreamUrl("ghcr.io", toGhcr.url()));
    skopeo = new Skopeo(temp.resolve("skopeo"));
  }

  @AfterAll
  static void stop() throws Exception {
    cistern.close();
    toHub.close();
    toGhcr.close();
  }

  @Test
  void theNsParameterReachesTheUpstreamItNames() throws Exception {
    assertArrayEquals(onGhcr.manifest().bytes(), manifest("/v2/team/app/manifests/1.0?ns=ghcr.io"));
    assertArrayEquals(onHub.manifest().bytes(), manifest("/v2/team/app/manifests/1.0?ns=docker.io"));
    TestImage.Blob layer = onGhcr.blobs().get(1);
    HttpResponse<byte[]> blob = cistern.get("/v2/team/app/blobs/" + layer.digest() + "?ns=ghcr.io");
    assertEquals(200, blob.statusCode());
    assertArrayEquals(layer.bytes(), blob.body());
    assertEquals(1, toGhcr.count("GET", path -> path.endsWith("/blobs/" + layer.digest())), "the blob came from ghcr.io");
  }

  @Test
  void aPathPrefixReachesTheUpstreamItNames() throws Exception {
    Path out = temp.resolve("prefixed");
    skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/ghcr.io/team/app:1.0", "dir:" + out);
    assertArrayEquals(onGhcr.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
    for (TestImage.Blob blob : onGhcr.blobs()) {
      assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())));
    }
    assertTrue(toGhcr.count("GET", "/v2/team/app/manifests/1.0"::equals) >= 1, "asked for team/app, prefix stripped");
  }

  @Test
  void noHintReachesTheDefaultUpstreamWithDockerHubsLibraryPrefix() throws Exception {
    Path out = temp.resolve("default");
    skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/alpine:3", "dir:" + out);
    assertArrayEquals(official.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
    assertTrue(toHub.count("GET", "/v2/library/alpine/manifests/3"::equals) >= 1, "alpine was asked for as library/alpine");
    assertArrayEquals(onHub.manifest().bytes(), manifest("/v2/team/app/manifests/1.0"));
  }

  @Test
  void theSameNameAtTwoUpstreamsIsCachedApart() throws Exception {
    for (int round = 0; round < 2; round++) {
      assertArrayEquals(onHub.manifest().bytes(), manifest("/v2/docker.io/team/app/manifests/1.0"), "round " + round);
      assertArrayEquals(onGhcr.manifest().bytes(), manifest("/v2/ghcr.io/team/app/manifests/1.0"), "round " + round);
    }
  }

  @Test
  void anUnconfiguredNsOrPrefixIsAnErrorAndNoConnectionIsMade() throws Exception {
    try (ServerSocket stranger = new ServerSocket(0, 50, InetAddress.getLoopbackAddress())) {
      String strangerHost = "127.0.0.1:" + stranger.getLocalPort();
      int hubBefore = toHub.requests().size();
      int ghcrBefore = toGhcr.requests().size();

      assertNameUnknown(cistern.get("/v2/team/app/manifests/1.0?ns=" + strangerHost));
      assertNameUnknown(cistern.get("/v2/team/app/blobs/" + onHub.blobs().get(0).digest() + "?ns=" + strangerHost));
      assertNameUnknown(cistern.get("/v2/team/app/tags/list?ns=quay.io"));
      assertNameUnknown(cistern.get("/v2/" + strangerHost + "/team/app/manifests/1.0"));
      assertNameUnknown(cistern.get("/v2/quay.io/team/app/manifests/1.0"));
      assertNameUnknown(cistern.get("/v2/localhost/team/app/manifests/1.0"));

      // Any connection Cistern had opened would be in the listen queue by now: its answer came after.
      stranger.setSoTimeout(1);
      assertThrows(SocketTimeoutException.class, stranger::accept, "nobody connected to the unconfigured host");
      assertEquals(hubBefore, toHub.requests().size(), "nor to the default upstream");
      assertEquals(ghcrBefore, toGhcr.requests().size());
    }
  }

  private static byte[] manifest(String path) throws Exception {
    HttpResponse<byte[]> response = cistern.get(path, "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), () -> path + ": " + new String(response.body()));
    return response.body();
  }

  private static void assertNameUnknown(HttpResponse<byte[]> response) throws Exception {
    assertEquals(404, response.statusCode(), new String(response.body()));
    JsonNode error = JSON.readTree(response.body()).path("errors").path(0);
    assertEquals("NAME_UNKNOWN", error.path("code").asText());
    assertTrue(error.path("message").asText().startsWith("Cistern mirrors no upstream named"), error.toString());
  }
}
