package io.cistern.upstream;

import io.cistern.oci.Manifest;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.Reference;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.ProxySelector;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The registry client against a hand-made upstream, for answers a real registry does not give:
 * documents too large to hold (chunked or announced), a manifest that is not JSON, a challenge
 * naming a malformed realm. Each is the upstream's fault, so each is a 502 for the client.
 */
class RegistryClientFaultInjectingUpstreamTest {

  private static final RepositoryName REPOSITORY = RepositoryName.of("team/app");

  /** One canned answer: status, headers, and a body sent chunked (no Content-Length) or not. */
  private record Answer(int status, Map<String, String> headers, byte[] body, boolean chunked) {}

  private HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final Map<String, Answer> answers = new ConcurrentHashMap<>();
  /** Body bytes the server managed to write, across all answers. */
  private final AtomicLong written = new AtomicLong();
  private RegistryClient client;

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
    server.setExecutor(executor);
    server.createContext("/", this::answer);
    server.start();
    UpstreamSettings settings = UpstreamSettings.of("upstream.test",
        URI.create("http://127.0.0.1:" + server.getAddress().getPort()), null);
    HttpClient http = RegistryClient.newHttpClient(settings, executor, UpstreamTls.trusting(null), ProxySelector.of(null));
    client = new RegistryClient(settings, http, executor, Duration.ofMillis(1), UpstreamObserver.NONE);
  }

  @AfterEach
  void stop() {
    server.stop(0);
    executor.shutdownNow();
  }

  @Test
  void aChunkedManifestAboveFourMebibytesIsABadGatewayNotAHeapFull() {
    byte[] huge = new byte[Manifest.MAX_BYTES * 4];
    answers.put("/v2/team/app/manifests/latest", new Answer(200, Map.of("Content-Type", MediaTypes.OCI_MANIFEST), huge, true));
    RegistryException error = failure(client.getManifest(REPOSITORY, Reference.parse("latest")));
    assertEquals(502, error.status());
    assertTrue(error.getMessage().contains("larger than " + Manifest.MAX_BYTES), error.getMessage());
  }

  @Test
  void anAnnouncedOversizedManifestIsRefusedBeforeItsBodyIsRead() {
    byte[] huge = new byte[Manifest.MAX_BYTES + 1];
    answers.put("/v2/team/app/manifests/latest", new Answer(200, Map.of("Content-Type", MediaTypes.OCI_MANIFEST), huge, false));
    assertEquals(502, failure(client.getManifest(REPOSITORY, Reference.parse("latest"))).status());
  }

  @Test
  void aManifestThatIsNotJsonIsTheUpstreamsFault() {
    byte[] portal = "<html>please log in to the hotel wifi</html>".getBytes(StandardCharsets.UTF_8);
    answers.put("/v2/team/app/manifests/latest", new Answer(200, Map.of("Content-Type", "text/html"), portal, false));
    RegistryException error = failure(client.getManifest(REPOSITORY, Reference.parse("latest")));
    assertEquals(502, error.status(), "not MANIFEST_INVALID 400: the client asked nothing wrong");
    assertTrue(error.getMessage().contains("not JSON"), error.getMessage());
  }

  @Test
  void referrersPagesTogetherMayNotExceedAManifest() {
    Digest subject = Digest.sha256Of(new byte[] {1});
    String path = "/v2/team/app/referrers/" + subject;
    // Each page is under the limit, but the pages keep coming: their sum is what is bounded.
    String page = "{\"schemaVersion\":2,\"manifests\":[],\"padding\":\"" + "x".repeat(1 << 20) + "\"}";
    answers.put(path, new Answer(200, Map.of("Content-Type", MediaTypes.OCI_INDEX, "Link", "<" + path + ">; rel=\"next\""),
        page.getBytes(StandardCharsets.UTF_8), true));
    RegistryException error = failure(client.getReferrers(REPOSITORY, subject));
    assertEquals(502, error.status());
    assertTrue(error.getMessage().contains("referrers list larger than"), error.getMessage());
  }

  @Test
  void anEndlessTagListIsCutAtItsBound() {
    String page = "{\"name\":\"team/app\",\"tags\":[\"" + "t".repeat(RegistryClient.MAX_TAG_LIST_BYTES) + "\"]}";
    answers.put("/v2/team/app/tags/list", new Answer(200, Map.of("Content-Type", MediaTypes.JSON),
        page.getBytes(StandardCharsets.UTF_8), true));
    RegistryException error = failure(client.listTags(REPOSITORY));
    assertEquals(502, error.status());
    assertTrue(written.get() < 2L * RegistryClient.MAX_TAG_LIST_BYTES, "the rest was not read: " + written.get());
  }

  @Test
  void aChallengeWithAMalformedRealmFailsTheRequestWithABadGateway() {
    answers.put("/v2/team/app/manifests/latest", new Answer(401,
        Map.of("WWW-Authenticate", "Bearer realm=\"http://bad host/token\",service=\"x\""), new byte[0], false));
    assertEquals(502, failure(client.getManifest(REPOSITORY, Reference.parse("latest"))).status());
    assertEquals(502, failure(client.getManifest(REPOSITORY, Reference.parse("latest"))).status(),
        "also once the challenge is remembered and the realm is read before anything is sent");
  }

  private static RegistryException failure(CompletableFuture<?> call) {
    ExecutionException failed = assertThrows(ExecutionException.class, () -> call.get(30, TimeUnit.SECONDS));
    return assertInstanceOf(RegistryException.class, UpstreamErrors.unwrap(failed));
  }

  private void answer(HttpExchange exchange) throws IOException {
    try (exchange) {
      Answer answer = answers.get(exchange.getRequestURI().getRawPath());
      if (answer == null) {
        exchange.sendResponseHeaders(404, -1);
        return;
      }
      answer.headers().forEach((name, value) -> exchange.getResponseHeaders().set(name, value));
      exchange.sendResponseHeaders(answer.status(), answer.chunked() ? 0 : answer.body().length == 0 ? -1 : answer.body().length);
      try (OutputStream out = exchange.getResponseBody()) {
        for (int offset = 0; offset < answer.body().length; offset += 64 << 10) {
          int length = Math.min(64 << 10, answer.body().length - offset);
          out.write(answer.body(), offset, length);
          written.addAndGet(length);
        }
      }
    } catch (IOException clientWentAway) {
      // The client stops reading a body it has refused: expected here.
    }
  }
}
