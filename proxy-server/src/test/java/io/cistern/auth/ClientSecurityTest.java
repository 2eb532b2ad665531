package io.cistern.auth;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCertificates;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.EnumSource;

/**
 * Client-facing security with the real skopeo: TLS from PEM files trusted through a CA the test
 * made, htpasswd logins with a proper challenge, and the static bearer token.
 */
class ClientSecurityTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static Skopeo skopeo;
  private static final TestImage image = TestImage.random(31, 2, 40_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    upstream.push("team/app", "1.0", image);
    skopeo = new Skopeo(temp.resolve("skopeo"));
  }

  @ParameterizedTest
  @EnumSource(TestCertificates.KeyFormat.class)
  void skopeoPullsOverTlsWhenItTrustsTheCertificateAuthority(TestCertificates.KeyFormat keyFormat) throws Exception {
    Path directory = temp.resolve("tls-" + keyFormat);
    TestCertificates certificates = TestCertificates.create(directory.resolve("pki"), keyFormat);
    // skopeo reads every *.crt in its cert dir as a CA, and wants a client .cert beside any .key.
    Path trust = Files.createDirectories(directory.resolve("trust"));
    Files.copy(certificates.caCertificate(), trust.resolve("ca.crt"));
    try (TestCistern cistern = TestCistern.fromYaml(directory, config(directory, """
        security:
          tls:
            certificate: %s
            key: %s
        """.formatted(certificates.certificate(), certificates.key())))) {
      String source = "docker://" + cistern.hostPort() + "/team/app:1.0";

      Skopeo.Result untrusted = skopeo.run("--insecure-policy", "copy", source, "dir:" + directory.resolve("refused"));
      assertNotEquals(0, untrusted.exitCode(), "without the CA the certificate is not trusted:\n" + untrusted.output());

      skopeo.copy("--src-cert-dir", trust.toString(), source, "dir:" + directory.resolve("pulled"));
      assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(directory.resolve("pulled/manifest.json")));
      for (TestImage.Blob blob : image.blobs()) {
        assertArrayEquals(blob.bytes(), Files.readAllBytes(directory.resolve("pulled").resolve(blob.digest().hex())),
            "blob bytes arrive intact through TLS (chunked file reads, no sendfile)");
      }
    }
  }

  @Test
  void withHtpasswdUsersClientsAreChallengedAndPullOnceTheyLogIn() throws Exception {
    Path directory = temp.resolve("htpasswd");
    Files.createDirectories(directory);
    Path htpasswd = directory.resolve("htpasswd");
    Files.writeString(htpasswd, "# made like htpasswd -B\nalice:" + bcrypt("s3cret") + "\nbob:" + bcrypt("hunter2") + "\n");
    try (TestCistern cistern = TestCistern.fromYaml(directory, config(directory, """
        security:
          auth:
            realm: Cistern test
            htpasswd: %s
        """.formatted(htpasswd)))) {
      HttpResponse<byte[]> challenged = cistern.get("/v2/");
      assertEquals(401, challenged.statusCode(), "/v2/ asks for credentials, so clients learn to send them");
      assertEquals("Basic realm=\"Cistern test\"", challenged.headers().firstValue("WWW-Authenticate").orElseThrow());
      JsonNode error = JSON.readTree(challenged.body()).path("errors").path(0);
      assertEquals("UNAUTHORIZED", error.path("code").asText());
      assertEquals(401, cistern.get("/v2/team/app/manifests/1.0").statusCode(), "every endpoint is guarded");
      assertEquals(401, cistern.get("/v2/", "Authorization", basic("alice", "wrong")).statusCode());
      assertEquals(401, cistern.get("/v2/", "Authorization", basic("mallory", "s3cret")).statusCode());
      assertEquals(401, cistern.get("/v2/", "Authorization", "Bearer s3cret").statusCode());
      assertEquals(200, cistern.get("/v2/", "Authorization", basic("alice", "s3cret")).statusCode());

      String source = "docker://" + cistern.hostPort() + "/team/app:1.0";
      Skopeo.Result anonymous = skopeo.run("--insecure-policy", "copy", "--src-tls-verify=false", source,
          "dir:" + directory.resolve("anonymous"));
      assertNotEquals(0, anonymous.exitCode(), "an anonymous pull is refused:\n" + anonymous.output());

      skopeo.copy("--src-tls-verify=false", "--src-creds", "bob:hunter2", source, "dir:" + directory.resolve("pulled"));
      assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(directory.resolve("pulled/manifest.json")));
    }
  }

  @Test
  void aStaticBearerTokenLetsKubernetesNodesPull() throws Exception {
    Path directory = temp.resolve("token");
    try (TestCistern cistern = TestCistern.fromYaml(directory, config(directory, """
        security:
          auth:
            bearerToken: node-pull-token-123
        """))) {
      HttpResponse<byte[]> challenged = cistern.get("/v2/");
      assertEquals(401, challenged.statusCode());
      assertEquals("Bearer realm=\"Cistern\"", challenged.headers().firstValue("WWW-Authenticate").orElseThrow());
      assertEquals(401, cistern.get("/v2/", "Authorization", "Bearer node-pull-token-12").statusCode());
      assertEquals(401, cistern.get("/v2/", "Authorization", basic("token", "node-pull-token-123")).statusCode(),
          "the token is a bearer token, not a password");
      HttpResponse<byte[]> manifest = cistern.get("/v2/team/app/manifests/1.0",
          "Authorization", "Bearer node-pull-token-123", "Accept", image.manifest().mediaType());
      assertEquals(200, manifest.statusCode());
      assertArrayEquals(image.manifest().bytes(), manifest.body());

      skopeo.copy("--src-tls-verify=false", "--src-registry-token", "node-pull-token-123",
          "docker://" + cistern.hostPort() + "/team/app:1.0", "dir:" + directory.resolve("pulled"));
      assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(directory.resolve("pulled/manifest.json")));
    }
  }

  private static String config(Path directory, String security) {
    return """
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(directory.resolve("cache"), upstream.url()) + security;
  }

  private static String bcrypt(String password) {
    byte[] salt = new byte[16];
    new java.security.SecureRandom().nextBytes(salt);
    return OpenBSDBCrypt.generate("2y", password.toCharArray(), salt, 5);
  }

  private static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void theChallengeNamesTheConfiguredRealmWithoutQuotesThatCouldBreakIt() {
    ClientAuthenticator authenticator = new ClientAuthenticator("a \"quoted\" realm", null, "t", Runnable::run);
    assertTrue(authenticator.required());
    assertEquals("Bearer realm=\"a quoted realm\"", authenticator.challenge());
  }
}
