package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.ReferrersIndex;
import io.cistern.testing.BlobStream;
import io.cistern.testing.BoundedClients;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCistern.UpstreamUrl;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicInteger;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Tiered mirrors: node Cisterns whose three upstreams ({@code docker.io}, {@code ghcr.io},
 * {@code quay.io}) all have one url, a site Cistern's ({@code mirror: ns} or {@code mirror: prefix}),
 * and the site in front of three real Distribution registries that hold different images under the
 * same names. The site asks for credentials (htpasswd), which the nodes have. Each node reaches the
 * site through its own {@link CountingRelay}, which shows what the node asked the site for; the
 * site reaches each registry through one too.
 */
@Timeout(value = 180, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class TieredMirrorTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String USER = "node";
  private static final String PASSWORD = "node-secret";
  private static final List<String> REGISTRIES = List.of("docker.io", "ghcr.io", "quay.io");
  private static final String SBOM = "application/spdx+json";

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream hub = new RealUpstream();

  @RegisterExtension
  static final RealUpstream ghcr = new RealUpstream();

  @RegisterExtension
  static final RealUpstream quay = new RealUpstream();

  private static final Map<String, TestImage> apps = Map.of(
      "docker.io", TestImage.random(171, 2, 20_000, "amd64"),
      "ghcr.io", TestImage.random(172, 2, 20_000, "amd64"),
      "quay.io", TestImage.random(173, 2, 20_000, "amd64"));
  private static final TestImage official = TestImage.random(174, 1, 10_000, "amd64");
  private static final TestImage cached = TestImage.random(175, 1, 10_000, "amd64");
  private static final TestImage signed = TestImage.random(176, 1, 10_000, "amd64");
  private static final byte[] large = random(177, 2 << 20);
  private static final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));

  private static final Map<String, CountingRelay> toRegistry = new LinkedHashMap<>();
  private static TestCistern site;
  private static TestImage.Blob sbom;
  private static final AtomicInteger nodeCount = new AtomicInteger();

  @RegisterExtension
  final BoundedClients clients = new BoundedClients();

  private final List<AutoCloseable> nodes = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    Map<String, RealUpstream> registries = Map.of("docker.io", hub, "ghcr.io", ghcr, "quay.io", quay);
    for (String registry : REGISTRIES) {
      registries.get(registry).push("team/app", "1.0", apps.get(registry));
      toRegistry.put(registry, CountingRelay.to(registries.get(registry).port()));
    }
    hub.push("library/alpine", "3", official);
    ghcr.push("team/cached", "1.0", cached);
    ghcr.pushBlob("team/large", large);
    quay.putManifest("team/app", "1.1", apps.get("quay.io").manifest());
    quay.putManifest("team/app", "2.0", apps.get("quay.io").manifest());
    sbom = pushSbom(ghcr, "team/signed", signed);

    Path htpasswd = Files.writeString(temp.resolve("htpasswd"),
        USER + ":" + OpenBSDBCrypt.generate("2y", PASSWORD.toCharArray(), new SecureRandom().generateSeed(16), 5) + "\n");
    site = TestCistern.forUpstreams(temp.resolve("site"), clock, "security:\n  auth:\n    htpasswd: " + htpasswd + "\n",
        REGISTRIES.stream().map(registry -> new UpstreamUrl(registry, toRegistry.get(registry).url()))
            .toArray(UpstreamUrl[]::new));
  }

  @AfterAll
  static void stop() throws IOException {
    site.close();
    for (CountingRelay relay : toRegistry.values()) {
      relay.close();
    }
  }

  @AfterEach
  void stopNodes() throws Exception {
    for (AutoCloseable node : nodes) {
      node.close();
    }
  }

  @Test
  void oneSiteServesEveryRegistryToANodeThatNamesItWithNs() throws Exception {
    Node node = node("ns");
    Skopeo skopeo = new Skopeo(temp.resolve("skopeo-ns"));
    for (String registry : REGISTRIES) {
      Path byTag = temp.resolve("ns-" + registry + "-tag");
      skopeo.copy("--src-tls-verify=false", "docker://" + node.cistern.hostPort() + "/" + registry + "/team/app:1.0",
          "dir:" + byTag);
      assertPulled(apps.get(registry), byTag);
      assertTrue(node.relay.count("GET", ("/v2/team/app/manifests/1.0")::equals) >= 1);
    }
    Path byDigest = temp.resolve("ns-digest");
    skopeo.copy("--src-tls-verify=false",
        "docker://" + node.cistern.hostPort() + "/quay.io/team/app@" + apps.get("quay.io").digest(), "dir:" + byDigest);
    assertPulled(apps.get("quay.io"), byDigest);
    Path official = temp.resolve("ns-official");
    skopeo.copy("--src-tls-verify=false", "docker://" + node.cistern.hostPort() + "/alpine:3", "dir:" + official);
    assertPulled(TieredMirrorTest.official, official);

    for (CountingRelay.Request request : node.relay.requests()) {
      if (!request.path().equals("/v2/")) {
        assertTrue(request.target().matches("/v2/[^?]+\\?ns=(docker\\.io|ghcr\\.io|quay\\.io)"), request.target());
        assertFalse(request.path().startsWith("/v2/docker.io/"), "Docker Hub's name, not a prefix: " + request.target());
      }
    }
    assertTrue(node.relay.requests().stream().anyMatch(r -> r.target().equals("/v2/library/alpine/manifests/3?ns=docker.io")),
        "Docker Hub's official image, as library/alpine");
    for (String registry : REGISTRIES) {
      Digest layer = apps.get(registry).blobs().get(1).digest();
      assertEquals(1, node.relay.count("GET", ("/v2/team/app/blobs/" + layer)::equals), "one GET per blob at the site");
      assertEquals(1, toRegistry.get(registry).count("GET", ("/v2/team/app/blobs/" + layer)::equals),
          "the site fetched " + registry + "'s layer from " + registry);
    }
  }

  @Test
  void oneSiteServesEveryRegistryToANodeThatNamesItWithAPathPrefix() throws Exception {
    Node node = node("prefix");
    for (String registry : REGISTRIES) {
      TestImage app = apps.get(registry);
      assertArrayEquals(app.manifest().bytes(), get(node, "/v2/team/app/manifests/1.0?ns=" + registry).body());
      TestImage.Blob layer = app.blobs().get(1);
      assertArrayEquals(layer.bytes(), get(node, "/v2/" + registry + "/team/app/blobs/" + layer.digest()).body());
      assertArrayEquals(app.manifest().bytes(), get(node, "/v2/team/app/manifests/" + app.digest() + "?ns=" + registry).body());
      assertTrue(node.relay.count("GET", ("/v2/" + registry + "/team/app/manifests/1.0")::equals) >= 1, registry);
    }
    for (CountingRelay.Request request : node.relay.requests()) {
      assertFalse(request.target().contains("?"), "a prefix mirror is told nothing else: " + request.target());
    }
  }

  @Test
  void aDownloadResumedAfterACutAsksTheSameRegistryForTheRestWithARange() throws Exception {
    Node node = node("ns");
    node.relay.holdAfter(256 * 1024);
    String path = "/v2/team/large/blobs/" + Digest.sha256Of(large) + "?ns=ghcr.io";
    BlobStream stream = clients.open(node.cistern.url(path));
    assertEquals(200, stream.status());
    node.relay.cutConnections();
    node.relay.release();

    assertArrayEquals(large, stream.finish());
    List<CountingRelay.Request> gets = node.relay.requests().stream()
        .filter(r -> r.method().equals("GET") && r.path().equals("/v2/team/large/blobs/" + Digest.sha256Of(large)))
        .filter(r -> r.hasHeader("Authorization")) // the first, anonymous, was the site's challenge
        .toList();
    assertEquals(2, gets.size(), "the first GET and its resumption: " + gets);
    CountingRelay.Request resumed = gets.get(1);
    assertTrue(resumed.target().endsWith("?ns=ghcr.io"), resumed.target());
    assertTrue(resumed.hasHeader("Range"), "resumed from where the cut left it: " + resumed.headerLines());
    assertFalse(gets.get(0).hasHeader("Range"));
  }

  @Test
  void tagListsAndReferrersNameTheirRegistry() throws Exception {
    Node node = node("ns");
    JsonNode tags = JSON.readTree(get(node, "/v2/team/app/tags/list?ns=quay.io").body());
    List<String> listed = new ArrayList<>();
    tags.path("tags").forEach(tag -> listed.add(tag.asText()));
    assertEquals(List.of("1.0", "1.1", "2.0"), listed.stream().sorted().toList(), "quay.io's tags, not another's");
    assertTrue(node.relay.requests().stream().anyMatch(r -> r.target().equals("/v2/team/app/tags/list?ns=quay.io")));

    HttpResponse<byte[]> referrers = get(node, "/v2/team/signed/referrers/" + signed.digest() + "?ns=ghcr.io");
    ReferrersIndex index = ReferrersIndex.parse(referrers.body());
    assertEquals(1, index.manifests().size(), new String(referrers.body(), StandardCharsets.UTF_8));
    assertEquals(sbom.digest().toString(), index.manifests().get(0).digest());
    assertEquals(SBOM, index.manifests().get(0).artifactType());
    assertTrue(node.relay.requests().stream()
        .anyMatch(r -> r.target().equals("/v2/team/signed/referrers/" + signed.digest() + "?ns=ghcr.io")));
  }

  @Test
  void withoutTheNodesCredentialsTheSiteServesNothing() throws Exception {
    HttpResponse<byte[]> anonymous = site.get("/v2/team/app/manifests/1.0?ns=ghcr.io");
    assertEquals(401, anonymous.statusCode(), "the site asks for credentials, which the nodes send");
  }

  @Test
  void withTheRegistryDownTheSiteAndTheNodesServeWhatTheyCached() throws Exception {
    Node warm = node("ns");
    String tag = "/v2/team/cached/manifests/1.0?ns=ghcr.io";
    String digest = "/v2/team/cached/manifests/" + cached.digest() + "?ns=ghcr.io";
    TestImage.Blob layer = cached.blobs().get(1);
    String blob = "/v2/team/cached/blobs/" + layer.digest() + "?ns=ghcr.io";
    Skopeo skopeo = new Skopeo(temp.resolve("skopeo-outage"));
    Path pulled = temp.resolve("outage-warm");
    skopeo.copy("--src-tls-verify=false", "docker://" + warm.cistern.hostPort() + "/ghcr.io/team/cached:1.0", "dir:" + pulled);
    assertPulled(cached, pulled); // the whole image, config included, is now at the node and the site

    ghcr.stop();
    try {
      clock.advance(Duration.ofHours(1)); // every tag is past its tagTtl: the site must ask ghcr.io, which is down
      Node cold = node("ns");
      Path byTag = temp.resolve("outage-tag");
      skopeo.copy("--src-tls-verify=false", "docker://" + cold.cistern.hostPort() + "/ghcr.io/team/cached:1.0", "dir:" + byTag);
      assertPulled(cached, byTag); // a new node: the site's tag, as ghcr.io is down
      Path byDigest = temp.resolve("outage-digest");
      skopeo.copy("--src-tls-verify=false", "docker://" + cold.cistern.hostPort() + "/ghcr.io/team/cached@" + cached.digest(),
          "dir:" + byDigest);
      assertPulled(cached, byDigest);

      warm.relay.goDown(); // and now the site too, for the node that pulled before
      assertArrayEquals(cached.manifest().bytes(), get(warm, tag).body(), "the node's own tag, as nothing above answers");
      assertArrayEquals(cached.manifest().bytes(), get(warm, digest).body());
      assertArrayEquals(layer.bytes(), get(warm, blob).body());
    } finally {
      ghcr.restart();
    }
  }

  /** A node Cistern whose three upstreams are the site, reached through a fresh relay. */
  private Node node(String mirror) throws Exception {
    CountingRelay relay = CountingRelay.to(site.port());
    String keys = """
        mirror: %s
        username: %s
        password: %s
        maxRetries: 1
        """.formatted(mirror, USER, PASSWORD);
    TestCistern cistern = TestCistern.forUpstreams(temp.resolve("node-" + nodeCount.incrementAndGet()), clock,
        "shutdown:\n  grace: 0s\n",
        REGISTRIES.stream().map(registry -> new UpstreamUrl(registry, relay.url(), keys)).toArray(UpstreamUrl[]::new));
    Node node = new Node(relay, cistern);
    nodes.add(() -> {
      relay.release();
      cistern.close();
      relay.close();
    });
    return node;
  }

  private record Node(CountingRelay relay, TestCistern cistern) {}

  private static HttpResponse<byte[]> get(Node node, String path) throws Exception {
    HttpResponse<byte[]> response = node.cistern.get(path, "Accept", MediaTypes.OCI_MANIFEST + ", " + MediaTypes.OCI_INDEX);
    assertEquals(200, response.statusCode(), () -> path + ": " + new String(response.body(), StandardCharsets.UTF_8));
    return response;
  }

  private static void assertPulled(TestImage image, Path out) throws IOException {
    assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
    for (TestImage.Blob blob : image.blobs()) {
      assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())));
    }
  }

  /** An SBOM naming {@code subject}, listed in its referrers fallback tag as oras pushes it. */
  private static TestImage.Blob pushSbom(RealUpstream registry, String repository, TestImage subject) throws Exception {
    registry.push(repository, "1.0", subject);
    byte[] emptyConfig = "{}".getBytes(StandardCharsets.UTF_8);
    byte[] payload = "an sbom".getBytes(StandardCharsets.UTF_8);
    registry.pushBlob(repository, emptyConfig);
    registry.pushBlob(repository, payload);
    Map<String, Object> artifact = new LinkedHashMap<>();
    artifact.put("schemaVersion", 2);
    artifact.put("mediaType", MediaTypes.OCI_MANIFEST);
    artifact.put("artifactType", SBOM);
    artifact.put("config", descriptor("application/vnd.oci.empty.v1+json", emptyConfig));
    artifact.put("layers", List.of(descriptor("application/octet-stream", payload)));
    artifact.put("subject", descriptor(MediaTypes.OCI_MANIFEST, subject.manifest().bytes()));
    byte[] bytes = JSON.writeValueAsBytes(artifact);
    TestImage.Blob manifest = new TestImage.Blob(Digest.sha256Of(bytes), MediaTypes.OCI_MANIFEST, bytes);
    registry.putManifest(repository, manifest.digest().toString(), manifest);
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", MediaTypes.OCI_INDEX);
    Map<String, Object> entry = descriptor(MediaTypes.OCI_MANIFEST, bytes);
    entry.put("artifactType", SBOM);
    index.put("manifests", List.of(entry));
    byte[] indexBytes = JSON.writeValueAsBytes(index);
    registry.putManifest(repository, subject.digest().referrersTag(),
        new TestImage.Blob(Digest.sha256Of(indexBytes), MediaTypes.OCI_INDEX, indexBytes));
    return manifest;
  }

  private static Map<String, Object> descriptor(String mediaType, byte[] content) {
    Map<String, Object> descriptor = new LinkedHashMap<>();
    descriptor.put("mediaType", mediaType);
    descriptor.put("digest", Digest.sha256Of(content).toString());
    descriptor.put("size", content.length);
    return descriptor;
  }

  private static byte[] random(long seed, int size) {
    byte[] bytes = new byte[size];
    new Random(seed).nextBytes(bytes);
    return bytes;
  }
}
