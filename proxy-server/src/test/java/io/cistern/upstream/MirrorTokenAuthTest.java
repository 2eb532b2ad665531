package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.MediaTypes;
import io.cistern.testing.DistributionRegistry;
import io.cistern.testing.RegistryPusher;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import io.cistern.testing.TokenIssuer;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A mirror upstream that asks for bearer tokens: a real Distribution with {@code auth: token}
 * ({@link TokenIssuer}) standing for a mirror of several registries. Told with a path prefix, it
 * knows ghcr.io's {@code team/app} as {@code ghcr.io/team/app}, and a token for any other scope
 * does not open it; told with {@code ns} (which Distribution ignores), the name is the plain one.
 */
class MirrorTokenAuthTest {

  private static final String USER = "node";
  private static final String PASSWORD = "node-secret";

  @TempDir
  static Path temp;

  private static TokenIssuer issuer;
  private static DistributionRegistry mirror;
  private static TestCistern cistern;
  private static final TestImage prefixed = TestImage.random(191, 1, 10_000, "amd64");
  private static final TestImage plain = TestImage.random(192, 1, 10_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    try (DistributionRegistry open = DistributionRegistry.start(temp.resolve("mirror"))) {
      RegistryPusher pusher = new RegistryPusher(open.url());
      pusher.push("ghcr.io/team/app", "1.0", prefixed);
      pusher.push("team/app", "1.0", plain);
    }
    issuer = TokenIssuer.start(Files.createDirectories(temp.resolve("issuer")), USER, PASSWORD);
    mirror = DistributionRegistry.start(temp.resolve("mirror"), issuer.authSection());
    cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %1$s
        upstreams:
          - host: ghcr.io
            url: %2$s
            mirror: prefix
            username: %3$s
            passwordEnv: MIRROR_PASSWORD
          - host: quay.io
            url: %2$s
            mirror: ns
            username: %3$s
            passwordEnv: MIRROR_PASSWORD
        """.formatted(temp.resolve("cistern/cache"), mirror.url(), USER), Clock.systemUTC(),
        Map.of("MIRROR_PASSWORD", PASSWORD));
  }

  @AfterAll
  static void stop() {
    cistern.close();
    mirror.close();
    issuer.close();
  }

  @Test
  void aPrefixMirrorsTokenIsForThePrefixedName() throws Exception {
    assertArrayEquals(prefixed.manifest().bytes(), get("/v2/team/app/manifests/1.0?ns=ghcr.io").body());
    TestImage.Blob layer = prefixed.blobs().get(1);
    assertArrayEquals(layer.bytes(), get("/v2/ghcr.io/team/app/blobs/" + layer.digest()).body());
    assertTrue(issuer.fetches("repository:ghcr.io/team/app:pull") >= 1, "the token names the repository the mirror knows");
  }

  @Test
  void anNsMirrorsTokenIsForThePlainName() throws Exception {
    assertArrayEquals(plain.manifest().bytes(), get("/v2/team/app/manifests/1.0?ns=quay.io").body());
    assertTrue(issuer.fetches("repository:team/app:pull") >= 1);
  }

  private static HttpResponse<byte[]> get(String path) throws Exception {
    HttpResponse<byte[]> response = cistern.get(path, "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), () -> path + ": " + new String(response.body(), StandardCharsets.UTF_8));
    return response;
  }
}
