package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.DistributionRegistry;
import io.cistern.testing.RegistryPusher;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import io.cistern.testing.TokenIssuer;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Authentication to real Distribution registries: one with {@code auth: htpasswd} (Basic), one with
 * {@code auth: token} whose token server is {@link TokenIssuer}. One Cistern has credentials for
 * both (Basic from a docker {@code config.json}, the token upstream's password from an environment
 * variable), the other has none, or wrong ones.
 */
class UpstreamAuthenticationTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String USER = "puller";
  private static final String PASSWORD = "pull-secret";
  private static final int CONCURRENT = 32;

  @TempDir
  static Path temp;

  private static DistributionRegistry basicRegistry;
  private static DistributionRegistry tokenRegistry;
  private static TokenIssuer issuer;
  private static TestCistern authorised;
  private static TestCistern unauthorised;
  private static Skopeo skopeo;
  private static final TestImage image = TestImage.random(31, 2, 30_000, "amd64");
  private static final TestImage other = TestImage.random(32, 1, 10_000, "amd64");
  private static final TestImage rotated = TestImage.random(33, 1, 10_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    basicRegistry = seeded("basic", registry -> {
      new RegistryPusher(registry.url()).push("team/app", "1.0", image);
    }, "  htpasswd:\n    realm: cistern-test\n    path: " + htpasswd(temp.resolve("htpasswd")) + "\n");
    issuer = TokenIssuer.start(Files.createDirectories(temp.resolve("issuer")), USER, PASSWORD);
    tokenRegistry = seeded("token", registry -> {
      RegistryPusher pusher = new RegistryPusher(registry.url());
      pusher.push("team/app", "1.0", image);
      pusher.push("team/rotated", "1.0", rotated);
      for (String repository : List.of("team/a", "team/b", "team/many")) {
        pusher.push(repository, "1.0", other);
      }
      for (int i = 1; i < CONCURRENT; i++) {
        pusher.putManifest("team/many", "1." + i, other.manifest());
      }
    }, issuer.authSection());

    Path dockerConfig = Files.writeString(temp.resolve("config.json"), """
        {"auths": {"basic.test": {"auth": "%s"}}}
        """.formatted(Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8))));
    authorised = TestCistern.fromYaml(temp.resolve("authorised"), """
        cache:
          directory: %s
        dockerConfig: %s
        upstreams:
          - host: basic.test
            url: %s
          - host: token.test
            url: %s
            username: %s
            passwordEnv: TOKEN_TEST_PASSWORD
          - host: narrow.token.test
            url: %s
            username: %s
            passwordEnv: TOKEN_TEST_PASSWORD
            maxConcurrentRequests: 1
        """.formatted(temp.resolve("authorised/cache"), dockerConfig, basicRegistry.url(), tokenRegistry.url(), USER,
        tokenRegistry.url(), USER), Clock.systemUTC(), Map.of("TOKEN_TEST_PASSWORD", PASSWORD));
    unauthorised = TestCistern.fromYaml(temp.resolve("unauthorised"), """
        cache:
          directory: %s
        upstreams:
          - host: basic.test
            url: %s
          - host: token.test
            url: %s
          - host: wrong.token.test
            url: %s
            username: %s
            password: not-the-password
        """.formatted(temp.resolve("unauthorised/cache"), basicRegistry.url(), tokenRegistry.url(), tokenRegistry.url(), USER));
    skopeo = new Skopeo(temp.resolve("skopeo"));
  }

  @AfterAll
  static void stop() {
    authorised.close();
    unauthorised.close();
    basicRegistry.close();
    tokenRegistry.close();
    issuer.close();
  }

  private interface Seeding {
    void push(DistributionRegistry registry) throws Exception;
  }

  /** Pushes into an open registry, then serves the same storage with {@code authSection}. */
  private static DistributionRegistry seeded(String name, Seeding seeding, String authSection) throws Exception {
    try (DistributionRegistry open = DistributionRegistry.start(temp.resolve(name))) {
      seeding.push(open);
    }
    return DistributionRegistry.start(temp.resolve(name), authSection);
  }

  /** An htpasswd file with a bcrypt entry, as {@code htpasswd -B} writes it. */
  private static Path htpasswd(Path file) throws Exception {
    byte[] salt = new byte[16];
    new SecureRandom().nextBytes(salt);
    return Files.writeString(file, USER + ":" + OpenBSDBCrypt.generate("2y", PASSWORD.toCharArray(), salt, 5) + "\n");
  }

  @Test
  void basicAuthUpstreamPullsWithCredentialsFromADockerConfig() {
    Path out = temp.resolve("basic-pulled");
    skopeo.copy("--src-tls-verify=false", "docker://" + authorised.hostPort() + "/basic.test/team/app:1.0", "dir:" + out);
    assertPulled(image, out);
  }

  @Test
  void tokenAuthUpstreamPullsWithThePasswordFromTheEnvironment() {
    Path out = temp.resolve("token-pulled");
    skopeo.copy("--src-tls-verify=false", "docker://" + authorised.hostPort() + "/token.test/team/app:1.0", "dir:" + out);
    assertPulled(image, out);
  }

  /**
   * Two urls of one upstream that authenticate differently: a token registry first, a Basic one
   * after it, both holding the image. Each url's challenge is its own: were they one, the Basic
   * registry would be sent the token registry's Bearer token, and refuse it.
   */
  @Test
  void eachUrlOfAnUpstreamIsAnsweredInItsOwnAuthenticationWithTheUpstreamsCredentials() throws Exception {
    try (CountingRelay tokenUrl = CountingRelay.to(tokenRegistry.port());
        CountingRelay basicUrl = CountingRelay.to(basicRegistry.port());
        TestCistern cistern = TestCistern.fromYaml(temp.resolve("failover"), """
            cache:
              directory: %s
            upstreams:
              - host: failover.test
                urls: [%s, %s]
                username: %s
                passwordEnv: TOKEN_TEST_PASSWORD
            """.formatted(temp.resolve("failover/cache"), tokenUrl.url(), basicUrl.url(), USER), Clock.systemUTC(),
            Map.of("TOKEN_TEST_PASSWORD", PASSWORD))) {
      HttpResponse<byte[]> manifest = cistern.get("/v2/team/app/manifests/1.0", "Accept", MediaTypes.OCI_MANIFEST);
      assertEquals(200, manifest.statusCode(), new String(manifest.body(), StandardCharsets.UTF_8));
      assertTrue(tokenUrl.requests().stream().anyMatch(r -> r.hasHeader("Authorization")), "a token went to the first url");

      tokenUrl.goDown();
      TestImage.Blob layer = image.blobs().get(1);
      HttpResponse<byte[]> blob = cistern.get("/v2/team/app/blobs/" + layer.digest());
      assertEquals(200, blob.statusCode(), new String(blob.body(), StandardCharsets.UTF_8));
      assertArrayEquals(layer.bytes(), blob.body());
      String basic = "Basic " + Base64.getEncoder().encodeToString((USER + ":" + PASSWORD).getBytes(StandardCharsets.UTF_8));
      assertTrue(basicUrl.requests().stream()
          .filter(r -> r.path().endsWith("/blobs/" + layer.digest()))
          .anyMatch(r -> r.headerLines().stream().anyMatch(line -> line.regionMatches(true, 0, "Authorization:", 0, 14)
              && line.substring(14).trim().equals(basic))),
          "the second url got the upstream's credentials as its own challenge asked: " + basicUrl.requests());
    }
  }

  @Test
  void withoutCredentialsPullsFailWithAClearUnauthorizedError() throws Exception {
    for (String path : List.of(
        "/v2/basic.test/team/app/manifests/1.0",
        "/v2/basic.test/team/app/blobs/" + image.blobs().get(0).digest(),
        "/v2/token.test/team/app/manifests/1.0",
        "/v2/token.test/team/app/blobs/" + image.blobs().get(0).digest())) {
      JsonNode error = assertError(unauthorised.get(path, "Accept", MediaTypes.OCI_MANIFEST), 401, "UNAUTHORIZED");
      assertTrue(error.path("message").asText().contains("not authorised"), path + ": " + error);
    }
  }

  @Test
  void wrongCredentialsAreReportedAsRefused() throws Exception {
    JsonNode error = assertError(unauthorised.get("/v2/wrong.token.test/team/app/manifests/1.0"), 401, "UNAUTHORIZED");
    assertTrue(error.path("message").asText().contains("refused the configured credentials of " + USER), error.toString());
  }

  @Test
  void concurrentRequestsNeedingOneScopeShareOneTokenFetch() throws Exception {
    ExecutorService clients = Executors.newFixedThreadPool(CONCURRENT);
    try {
      List<CompletableFuture<HttpResponse<byte[]>>> answers = new ArrayList<>();
      for (int i = 0; i < CONCURRENT; i++) {
        // Different tags, so Cistern's own single flight does not merge the requests first.
        String path = "/v2/token.test/team/many/manifests/1." + i;
        answers.add(CompletableFuture.supplyAsync(() -> get(authorised, path), clients));
      }
      for (CompletableFuture<HttpResponse<byte[]>> answer : answers) {
        HttpResponse<byte[]> response = answer.get(60, TimeUnit.SECONDS);
        assertEquals(200, response.statusCode(), new String(response.body(), StandardCharsets.UTF_8));
        assertArrayEquals(other.manifest().bytes(), response.body());
      }
    } finally {
      clients.shutdownNow();
    }
    assertEquals(1, issuer.fetches("repository:team/many:pull"), "one token fetch for " + CONCURRENT + " requests");
  }

  @Test
  void differentScopesFetchTokensInParallelEvenWithOneRequestSlot() throws Exception {
    // The issuer answers team/a only once team/b's fetch has arrived: were token fetches (or the
    // upstream's single request slot) held across a fetch, team/a would wait 30 s and get a 503.
    issuer.holdUntilRequested("repository:team/a:pull", "repository:team/b:pull");
    CompletableFuture<HttpResponse<byte[]>> a = CompletableFuture.supplyAsync(
        () -> get(authorised, "/v2/narrow.token.test/team/a/manifests/1.0"));
    assertTrue(issuer.awaitRequested("repository:team/a:pull"), "team/a's token fetch is under way");
    HttpResponse<byte[]> b = get(authorised, "/v2/narrow.token.test/team/b/manifests/1.0");
    assertEquals(200, b.statusCode(), new String(b.body(), StandardCharsets.UTF_8));
    HttpResponse<byte[]> answerA = a.get(60, TimeUnit.SECONDS);
    assertEquals(200, answerA.statusCode(), new String(answerA.body(), StandardCharsets.UTF_8));
    assertArrayEquals(other.manifest().bytes(), answerA.body());
  }

  @Test
  void aCachedTokenTheRegistryRefusesIsDroppedAndFetchedAgain() throws Exception {
    String scope = "repository:team/rotated:pull";
    assertEquals(200, get(authorised, "/v2/token.test/team/rotated/manifests/1.0").statusCode());
    assertEquals(1, issuer.fetches(scope));
    issuer.rotateSigningKey();
    tokenRegistry.restart();
    // A blob no one has pulled yet: it must come from the upstream, asked with the token Cistern holds.
    TestImage.Blob layer = rotated.blobs().get(1);
    HttpResponse<byte[]> blob = get(authorised, "/v2/token.test/team/rotated/blobs/" + layer.digest());
    assertEquals(200, blob.statusCode(), new String(blob.body(), StandardCharsets.UTF_8));
    assertArrayEquals(layer.bytes(), blob.body());
    assertEquals(2, issuer.fetches(scope), "the refused token was replaced by exactly one new one");
  }

  private static HttpResponse<byte[]> get(TestCistern cistern, String path) {
    try {
      return cistern.get(path, "Accept", MediaTypes.OCI_MANIFEST);
    } catch (Exception e) {
      throw new AssertionError(path, e);
    }
  }

  private static void assertPulled(TestImage expected, Path out) {
    try {
      assertArrayEquals(expected.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
      for (TestImage.Blob blob : expected.blobs()) {
        assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())));
      }
    } catch (Exception e) {
      throw new AssertionError(e);
    }
  }

  private static JsonNode assertError(HttpResponse<byte[]> response, int status, String code) throws Exception {
    assertEquals(status, response.statusCode(), new String(response.body(), StandardCharsets.UTF_8));
    assertEquals(MediaTypes.JSON, response.headers().firstValue("Content-Type").orElseThrow());
    JsonNode error = JSON.readTree(response.body()).path("errors").path(0);
    assertEquals(code, error.path("code").asText(), error.toString());
    return error;
  }
}
