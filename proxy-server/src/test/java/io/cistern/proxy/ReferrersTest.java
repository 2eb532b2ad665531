package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.ReferrersKey;
import io.cistern.cache.ReferrersList;
import io.cistern.oci.Descriptor;
import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.ReferrersIndex;
import io.cistern.oci.RepositoryName;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.FaultInjectingUpstream;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.StdoutLines;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.URLEncoder;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The referrers API through Cistern. A real Distribution (2.8, which has no referrers API) holds
 * an image with an SBOM and a signature that name it as their subject, listed in the
 * {@code sha256-<hex>} fallback tag as oras and notation push it; Cistern answers the API from that
 * tag and caches the list like a tag. The API's own path is checked against a fake upstream, since
 * no registry available here implements it. Each test reads its own repository, so what the relay
 * counts belongs to it alone.
 */
class ReferrersTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String SBOM = "application/spdx+json";
  private static final String SIGNATURE = "application/vnd.cncf.notary.signature";
  private static final String EMPTY_CONFIG = "application/vnd.oci.empty.v1+json";

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static CountingRelay relay;
  private static FaultInjectingUpstream fake;
  private static final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));
  private static TestCistern cistern;
  private static final TestImage subject = TestImage.random(61, 1, 10_000, "amd64");
  private static final TestImage lonely = TestImage.random(62, 1, 10_000, "amd64");
  private static final List<TestImage.Blob> artifacts = new ArrayList<>();
  private static final List<Descriptor> entries = new ArrayList<>();

  @BeforeAll
  static void start() throws Exception {
    byte[] emptyConfig = "{}".getBytes(StandardCharsets.UTF_8);
    for (String artifactType : List.of(SBOM, SIGNATURE)) {
      byte[] payload = ("payload of " + artifactType).getBytes(StandardCharsets.UTF_8);
      TestImage.Blob artifact = blob(MediaTypes.OCI_MANIFEST, Map.of(
          "schemaVersion", 2,
          "mediaType", MediaTypes.OCI_MANIFEST,
          "artifactType", artifactType,
          "config", descriptor(EMPTY_CONFIG, emptyConfig),
          "layers", List.of(descriptor("application/octet-stream", payload)),
          "subject", descriptor(MediaTypes.OCI_MANIFEST, subject.manifest().bytes())));
      artifacts.add(artifact);
      entries.add(new Descriptor(MediaTypes.OCI_MANIFEST, artifact.digest().toString(), artifact.bytes().length, null,
          artifactType, null));
    }
    ReferrersIndex fallback = new ReferrersIndex(entries);
    for (String repository : List.of("team/fallback", "team/filter", "team/cached", "team/pull", "team/listed")) {
      upstream.push(repository, "1.0", subject);
      upstream.push(repository, "lonely", lonely);
      upstream.pushBlob(repository, emptyConfig);
      for (String artifactType : List.of(SBOM, SIGNATURE)) {
        byte[] payload = ("payload of " + artifactType).getBytes(StandardCharsets.UTF_8);
        upstream.pushBlob(repository, payload);
      }
      for (TestImage.Blob artifact : artifacts) {
        upstream.putManifest(repository, artifact.digest().toString(), artifact);
      }
      upstream.putManifest(repository, subject.digest().referrersTag(),
          new TestImage.Blob(Digest.sha256Of(fallback.toBytes()), MediaTypes.OCI_INDEX, fallback.toBytes()));
    }

    fake = FaultInjectingUpstream.start();
    fake.serveReferrers("team/app", subject.digest(), List.of(
        new ReferrersIndex(entries.subList(0, 1)), new ReferrersIndex(entries.subList(1, 2))));

    relay = CountingRelay.to(upstream.port());
    cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %s
        tagTtl: 5m
        upstreams:
          - host: upstream.test
            url: %s
          - host: with-api.test
            url: %s
        """.formatted(temp.resolve("cistern/cache"), relay.url(), fake.url()), clock);
  }

  @AfterAll
  static void stop() throws Exception {
    cistern.close();
    relay.close();
    fake.close();
  }

  @Test
  void anUpstreamWithoutTheApiIsAnsweredFromTheFallbackTag() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/team/fallback/referrers/" + subject.digest());
    assertEquals(200, response.statusCode(), body(response));
    assertEquals(MediaTypes.OCI_INDEX, response.headers().firstValue("Content-Type").orElseThrow());
    assertFalse(response.headers().firstValue("OCI-Filters-Applied").isPresent(), "nothing was filtered");
    assertEquals(List.of(SBOM, SIGNATURE), artifactTypes(response));
    assertEquals(artifacts.get(0).digest().toString(), JSON.readTree(response.body()).at("/manifests/0/digest").asText());
    assertEquals(1, relay.count("GET", ("/v2/team/fallback/referrers/" + subject.digest())::equals), "the API was tried");
    assertEquals(1, relay.count("GET", ("/v2/team/fallback/manifests/" + subject.digest().referrersTag())::equals),
        "then the fallback tag was read");
  }

  @Test
  void theArtifactTypeFilterIsAppliedAndSaidSo() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/team/filter/referrers/" + subject.digest() + "?artifactType=" + SIGNATURE);
    assertEquals(200, response.statusCode(), body(response));
    assertEquals("artifactType", response.headers().firstValue("OCI-Filters-Applied").orElseThrow());
    assertEquals(List.of(SIGNATURE), artifactTypes(response));
  }

  @Test
  void aSubjectNothingRefersToHasAnEmptyList() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/team/fallback/referrers/" + lonely.digest());
    assertEquals(200, response.statusCode(), body(response));
    assertEquals(List.of(), artifactTypes(response));
  }

  @Test
  void theListIsCachedLikeATagAndOutlivesAnOutage() throws Exception {
    String path = "/v2/team/cached/referrers/" + subject.digest() + "?ns=upstream.test";
    String apiPath = "/v2/team/cached/referrers/" + subject.digest();
    assertEquals(200, cistern.get(path).statusCode());
    assertEquals(1, relay.count("GET", apiPath::equals));
    clock.advance(Duration.ofMinutes(4));
    assertEquals(List.of(SBOM, SIGNATURE), artifactTypes(cistern.get(path)));
    assertEquals(1, relay.count("GET", apiPath::equals), "within the TTL the upstream is not asked");
    clock.advance(Duration.ofMinutes(2));
    assertEquals(List.of(SBOM, SIGNATURE), artifactTypes(cistern.get(path)));
    assertEquals(2, relay.count("GET", apiPath::equals), "after the TTL it is asked again");
    clock.advance(Duration.ofMinutes(6));
    upstream.stop();
    try {
      HttpResponse<byte[]> stale = cistern.get(path);
      assertEquals(200, stale.statusCode(), body(stale));
      assertEquals(List.of(SBOM, SIGNATURE), artifactTypes(stale), "served stale while the upstream is down");
    } finally {
      upstream.restart();
    }
  }

  @Test
  void theFallbackTagAndTheArtifactsPullThroughAsManifests() throws Exception {
    HttpResponse<byte[]> tag = cistern.get("/v2/team/pull/manifests/" + subject.digest().referrersTag(), "Accept", MediaTypes.OCI_INDEX);
    assertEquals(200, tag.statusCode(), body(tag));
    assertEquals(List.of(SBOM, SIGNATURE), artifactTypes(tag));
    for (TestImage.Blob artifact : artifacts) {
      HttpResponse<byte[]> manifest = cistern.get("/v2/team/pull/manifests/" + artifact.digest(), "Accept", MediaTypes.OCI_MANIFEST);
      assertArrayEquals(artifact.bytes(), manifest.body());
    }
  }

  @Test
  void anUpstreamWithTheApiIsPassedThroughPageByPage_FakeUpstreamSinceDistributionLacksTheApi() throws Exception {
    HttpResponse<byte[]> all = cistern.get("/v2/with-api.test/team/app/referrers/" + subject.digest());
    assertEquals(200, all.statusCode(), body(all));
    assertEquals(List.of(SBOM, SIGNATURE), artifactTypes(all), "both pages");
    HttpResponse<byte[]> sboms = cistern.get("/v2/with-api.test/team/app/referrers/" + subject.digest()
        + "?artifactType=" + URLEncoder.encode(SBOM, StandardCharsets.UTF_8));
    assertEquals(List.of(SBOM), artifactTypes(sboms));
    assertEquals(0, fake.count("GET /v2/team/app/manifests/" + subject.digest().referrersTag()), "no fallback needed");
    assertEquals(2, fake.requests().stream().filter(request -> request.contains("/referrers/")).count(),
        "two pages, once: the filtered answer came from the cached list");
  }

  @Test
  void aReferrersRequestIsLoggedWithTheUpstreamItWentTo() throws Exception {
    String path = "/v2/team/fallback/referrers/" + lonely.digest();
    // The line is written once the answer has left, which may be after the client has it: wait for it.
    try (StdoutLines lines = StdoutLines.watch(line -> line.contains(" uri=" + path + " "))) {
      assertEquals(200, cistern.get(path).statusCode());
      String line = lines.first().get(30, TimeUnit.SECONDS);
      assertTrue(line.contains(" upstream=upstream.test "), line);
    }
  }

  @Test
  void aCachedListIsNoImageNorTagItIsListedNowhere() throws Exception {
    assertEquals(200, cistern.get("/v2/team/listed/manifests/1.0").statusCode(), "an image, pulled by tag");
    HttpResponse<byte[]> response = cistern.get("/v2/team/listed/referrers/" + subject.digest());
    assertEquals(List.of(SBOM, SIGNATURE), artifactTypes(response));

    CacheDirectory cache = cistern.cistern().cache();
    RepositoryName repository = RepositoryName.of("team/listed");
    ReferrersList stored = cache.referrers().find(new ReferrersKey("upstream.test", repository, subject.digest())).orElseThrow();
    assertTrue(cache.blobs().contains(stored.list()), "the list is stored, as a referrers list");
    assertEquals(List.of("1.0"), cache.tags().tagsOf("upstream.test", repository), "the repository's cached tags");
    // What `cistern ls` shows, whether it asks a running server (this API) or opens the cache itself.
    HttpResponse<String> images = cistern.admin("/api/images?repository=upstream.test/team/listed");
    assertEquals(200, images.statusCode(), images.body());
    List<String> listed = new ArrayList<>();
    JSON.readTree(images.body()).forEach(image -> listed.add(image.path("tag").asText() + "@" + image.path("digest").asText()));
    assertEquals(List.of("1.0@" + subject.digest()), listed, "the image alone");
    JSON.readTree(cistern.admin("/api/images").body()).forEach(image ->
        assertFalse(image.path("upstream").asText().startsWith("referrers"), "no made-up upstream: " + image));
    JsonNode top = JSON.readTree(cistern.admin("/api/stats").body()).path("topRepositories");
    assertTrue(top.size() > 0, top.toString());
    top.forEach(usage -> assertFalse(usage.path("upstream").asText().startsWith("referrers"), "a top repository: " + usage));
  }

  @Test
  void aBadDigestIsDigestInvalid() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/team/fallback/referrers/sha256:abc");
    assertEquals(400, response.statusCode());
    assertEquals("DIGEST_INVALID", JSON.readTree(response.body()).at("/errors/0/code").asText());
  }

  private static List<String> artifactTypes(HttpResponse<byte[]> response) throws Exception {
    List<String> types = new ArrayList<>();
    JSON.readTree(response.body()).path("manifests").forEach(entry -> types.add(entry.path("artifactType").asText()));
    return types;
  }

  private static Map<String, Object> descriptor(String mediaType, byte[] content) {
    Map<String, Object> descriptor = new LinkedHashMap<>();
    descriptor.put("mediaType", mediaType);
    descriptor.put("digest", Digest.sha256Of(content).toString());
    descriptor.put("size", content.length);
    return descriptor;
  }

  private static TestImage.Blob blob(String mediaType, Map<String, Object> document) throws Exception {
    byte[] bytes = JSON.writeValueAsBytes(new LinkedHashMap<>(document));
    return new TestImage.Blob(Digest.sha256Of(bytes), mediaType, bytes);
  }

  private static String body(HttpResponse<byte[]> response) {
    return new String(response.body(), StandardCharsets.UTF_8);
  }
}
