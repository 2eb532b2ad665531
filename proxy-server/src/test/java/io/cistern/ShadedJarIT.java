package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CisternProcess;
import io.cistern.testing.LoopbackConfig;
import io.cistern.testing.TestCertificates;
import java.io.InputStream;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.KeyStore;
import java.security.SecureRandom;
import java.security.cert.CertificateFactory;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The shaded jar as it ships, run by failsafe once the package phase has built it: {@code java
 * -jar target/cistern.jar} with scripts/jvm-options and the class-data archive the build put
 * beside it, as scripts/run.sh starts it. Every other test runs on the full class path, so a class
 * the shade filter leaves out (of Bouncy Castle the jar keeps only what bcrypt reaches, see
 * proxy-server/pom.xml) would fail only here. What the filter and Cistern's own PEM reading
 * (io.cistern.http.PemPrivateKey, which replaced Bouncy Castle's) must carry: TLS from an EC key
 * in SEC 1 form, and client logins checked against a bcrypt htpasswd entry.
 */
class ShadedJarIT {

  /** What the build shaded (failsafe names it, see proxy-server/pom.xml). */
  private static final Path JAR = Path.of(System.getProperty("cistern.jar", "target/cistern.jar"));

  @TempDir
  Path temp;

  @Test
  void theJarServesTlsFromASec1KeyAndChecksBcryptLogins() throws Exception {
    TestCertificates certificates = TestCertificates.create(temp.resolve("pki"), TestCertificates.KeyFormat.SEC1_EC);
    assertTrue(Files.readString(certificates.key()).startsWith("-----BEGIN EC PRIVATE KEY-----"));
    Path htpasswd = Files.writeString(temp.resolve("htpasswd"), "alice:" + bcrypt("s3cret") + "\n");
    // Nothing here reaches the upstream: /v2/ is answered by Cistern itself.
    Path config = LoopbackConfig.write(temp.resolve("cistern.yml"), temp.resolve("cache"), "http://127.0.0.1:9");
    Files.writeString(config, """
        security:
          tls:
            certificate: %s
            key: %s
          auth:
            htpasswd: %s
        """.formatted(certificates.certificate(), certificates.key(), htpasswd), StandardOpenOption.APPEND);

    try (CisternProcess cistern = CisternProcess.startJar(JAR, config, shippedLaunchOptions())) {
      HttpClient https = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1)
          .sslContext(trusting(certificates.caCertificate())).build();
      URI v2 = URI.create("https://" + cistern.hostPort() + "/v2/");

      HttpResponse<String> anonymous = get(https, v2);
      assertEquals(401, anonymous.statusCode(), () -> "without credentials:\n" + String.join("\n", cistern.output()));
      assertEquals("Basic realm=\"Cistern\"", anonymous.headers().firstValue("WWW-Authenticate").orElseThrow());
      assertEquals(401, get(https, v2, basic("alice", "wrong")).statusCode(), () -> "a wrong password:\n"
          + String.join("\n", cistern.output()));
      assertEquals(200, get(https, v2, basic("alice", "s3cret")).statusCode(), () -> "alice's password:\n"
          + String.join("\n", cistern.output()));
    }
  }

  /**
   * scripts/jvm-options and, when the build made one, the class-data archive beside the jar
   * (scripts/cds-archive.sh makes none where this JVM cannot; Cistern then starts without it).
   * SQLite's library is left to the copy inside the jar, which is what the jar alone must carry.
   */
  private static List<String> shippedLaunchOptions() throws Exception {
    List<String> options = new ArrayList<>(CisternProcess.shippedJvmOptions());
    Path archive = JAR.resolveSibling("cistern.jsa");
    if (Files.isRegularFile(archive)) {
      options.add("-XX:SharedArchiveFile=" + archive);
    }
    return options;
  }

  private static HttpResponse<String> get(HttpClient https, URI uri, String... authorization) throws Exception {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).timeout(Duration.ofMinutes(1));
    for (String value : authorization) {
      request.header("Authorization", value);
    }
    return https.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }

  /** A TLS context that trusts {@code caCertificate} alone. */
  private static SSLContext trusting(Path caCertificate) throws Exception {
    KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
    trusted.load(null, null);
    try (InputStream pem = Files.newInputStream(caCertificate)) {
      trusted.setCertificateEntry("ca", CertificateFactory.getInstance("X.509").generateCertificate(pem));
    }
    TrustManagerFactory trust = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    trust.init(trusted);
    SSLContext context = SSLContext.getInstance("TLS");
    context.init(null, trust.getTrustManagers(), null);
    return context;
  }

  /** An entry as {@code htpasswd -B} writes it. */
  private static String bcrypt(String password) {
    byte[] salt = new byte[16];
    new SecureRandom().nextBytes(salt);
    return OpenBSDBCrypt.generate("2y", password.toCharArray(), salt, 5);
  }

  private static String basic(String user, String password) {
    return "Basic " + Base64.getEncoder().encodeToString((user + ":" + password).getBytes(StandardCharsets.UTF_8));
  }
}
