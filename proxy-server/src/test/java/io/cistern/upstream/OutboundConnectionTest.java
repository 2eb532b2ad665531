package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.config.ConfigException;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.DistributionRegistry;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.RegistryPusher;
import io.cistern.testing.TestCertificates;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLHandshakeException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * How Cistern reaches upstreams: over TLS trusting an upstream's own CA (a real Distribution
 * serving HTTPS with a certificate from a test CA), and through the HTTP proxy the environment
 * names (a relay standing in for the proxy in front of a real Distribution).
 */
class OutboundConnectionTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PROXIED_HOST = "registry.behind-proxy.test";

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream plainRegistry = new RealUpstream();

  private static DistributionRegistry tlsRegistry;
  private static CountingRelay proxy;
  private static TestCistern cistern;
  private static Path caFile;
  private static final TestImage image = TestImage.random(71, 1, 10_000, "amd64");

  @BeforeAll
  static void start() throws Exception {
    TestCertificates.Issued ca = TestCertificates.selfSignedCa("cistern test private CA");
    TestCertificates.Issued server = TestCertificates.serverFor127001(ca);
    caFile = ca.writeCertificate(temp.resolve("private-ca.pem"));
    try (DistributionRegistry open = DistributionRegistry.start(temp.resolve("tls"))) {
      new RegistryPusher(open.url()).push("team/app", "1.0", image);
    }
    tlsRegistry = DistributionRegistry.startTls(temp.resolve("tls"),
        server.writeCertificate(temp.resolve("server.pem")), server.writeKey(temp.resolve("server-key.pem")));

    plainRegistry.push("team/app", "1.0", image);
    // An HTTP proxy gets requests in absolute form and passes them on; Distribution accepts that
    // form, so a relay to it behaves like a proxy that can reach only this registry.
    proxy = CountingRelay.to(plainRegistry.port());

    cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %s
        upstreams:
          - host: private.test
            url: %s
            caCertificate: %s
          - host: untrusted.test
            url: %s
          - host: %s
            url: http://%s
        """.formatted(temp.resolve("cistern/cache"), tlsRegistry.url(), caFile, tlsRegistry.url(), PROXIED_HOST, PROXIED_HOST),
        Clock.systemUTC(), Map.of("HTTP_PROXY", "http://127.0.0.1:" + proxy.url().getPort(), "NO_PROXY", "ghcr.io"));
  }

  @AfterAll
  static void stop() throws Exception {
    cistern.close();
    proxy.close();
    tlsRegistry.close();
  }

  @Test
  void anUpstreamWithItsOwnCaIsReachedOverTls() throws Exception {
    assertTrue(tlsRegistry.url().toString().startsWith("https://"));
    HttpResponse<byte[]> response = cistern.get("/v2/private.test/team/app/manifests/1.0", "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), new String(response.body(), StandardCharsets.UTF_8));
    assertArrayEquals(image.manifest().bytes(), response.body());
  }

  @Test
  void theSameUpstreamWithoutItsCaIsRefusedWithAClearError() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/untrusted.test/team/app/manifests/1.0", "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(502, response.statusCode(), "the CA is trusted for its own upstream only");
    JsonNode error = JSON.readTree(response.body()).path("errors").path(0);
    assertEquals("UNAVAILABLE", error.path("code").asText());
    assertTrue(error.path("message").asText().contains("untrusted.test"), error.toString());
  }

  @Test
  void theTlsOfAPlainHttpUpstreamReadsTheSystemTrustOnlyWhenUsedAndStillRefusesWhatItDoesNotTrust() throws Exception {
    // A plain-HTTP upstream meets TLS only when it redirects to HTTPS; its trust is the system's,
    // read at the first handshake. The test CA is not the system's: the handshake must fail.
    HttpClient http = RegistryClient.newHttpClient(UpstreamSettings.of("plain.test", plainRegistry.url(), null),
        ForkJoinPool.commonPool(), UpstreamTls.trustingTheSystemOnFirstUse(), ProxySelector.of(null));
    assertThrows(SSLHandshakeException.class, () -> http.send(
        HttpRequest.newBuilder(tlsRegistry.url().resolve("/v2/")).build(), HttpResponse.BodyHandlers.discarding()));
    assertEquals(200, http.send(HttpRequest.newBuilder(plainRegistry.url().resolve("/v2/")).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode());
  }

  @Test
  void aDeferredTlsContextIsMadeAtTheFirstTlsConnectionAndThenTrustsWhatItsFactoryTrusts() throws Exception {
    AtomicInteger made = new AtomicInteger();
    HttpClient http = RegistryClient.newHttpClient(UpstreamSettings.of("plain.test", plainRegistry.url(), null),
        ForkJoinPool.commonPool(), new DeferredSslContext(() -> {
          made.incrementAndGet();
          return UpstreamTls.trusting(caFile);
        }), ProxySelector.of(null));
    assertEquals(200, http.send(HttpRequest.newBuilder(plainRegistry.url().resolve("/v2/")).build(),
        HttpResponse.BodyHandlers.discarding()).statusCode());
    assertEquals(0, made.get(), "plain HTTP made no TLS context");
    for (int i = 0; i < 2; i++) {
      assertEquals(200, http.send(HttpRequest.newBuilder(tlsRegistry.url().resolve("/v2/")).build(),
          HttpResponse.BodyHandlers.discarding()).statusCode());
    }
    assertEquals(1, made.get(), "made once, at the first handshake");
    assertArrayEquals(UpstreamTls.trusting(caFile).getDefaultSSLParameters().getProtocols(),
        http.sslParameters().getProtocols(), "the real context's protocols, so HTTP/2 is offered as usual");
  }

  @Test
  void aCaFileWithoutACertificateStopsStartUp() throws Exception {
    Path notPem = Files.writeString(temp.resolve("not-a-ca.pem"), "hello\n");
    ConfigException refused = assertThrows(ConfigException.class, () -> TestCistern.fromYaml(
        temp.resolve("bad-ca"), """
            cache:
              directory: %s
            upstreams:
              - host: private.test
                url: %s
                caCertificate: %s
            """.formatted(temp.resolve("bad-ca/cache"), tlsRegistry.url(), notPem)));
    assertTrue(refused.getMessage().contains(notPem.toString()), refused.getMessage());
    assertTrue(refused.getMessage().startsWith("upstreams[0].caCertificate"), "names the key: " + refused.getMessage());
    assertFalse(Files.exists(temp.resolve("bad-ca/cache")), "before the cache was opened");
  }

  @Test
  void theHttpProxyFromTheEnvironmentCarriesRequestsToItsUpstream() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/" + PROXIED_HOST + "/team/app/manifests/1.0", "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), new String(response.body(), StandardCharsets.UTF_8));
    assertArrayEquals(image.manifest().bytes(), response.body());
    assertTrue(proxy.requests().stream().anyMatch(request ->
            request.target().equals("http://" + PROXIED_HOST + "/v2/team/app/manifests/1.0")),
        "the proxy got the request in absolute form: " + proxy.requests());
  }
}
