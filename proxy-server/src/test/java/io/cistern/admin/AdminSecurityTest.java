package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.Cistern;
import io.cistern.Settings;
import io.cistern.cache.CacheDirectory;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigLoader;
import io.cistern.ops.BundleDirectory;
import io.cistern.ops.Jobs;
import io.cistern.testing.CisternCli;
import io.cistern.testing.RawHttpConnection;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The admin listener's defences on running servers, with the CLI as the real client: the token,
 * the loopback rule without one, the browser defences (JSON bodies, same origin, loopback Host),
 * bundles confined to the bundle directory, malformed URIs, the job cap and the idle timeout.
 * Callers a loopback test cannot be (another machine) are in AdminGuardTest.
 */
class AdminSecurityTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String UPSTREAM = "upstream.test";
  private static final String APP = UPSTREAM + "/team/app:1.0";
  private static final String UNCACHED = UPSTREAM + "/team/app:9";
  private static final String TOKEN = "correct horse battery staple";
  private static final TestImage app = TestImage.random(61, 2, 30_000, "amd64");

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static String upstreams;
  /** A server without a token, holding APP, shared by the tests that change nothing in its cache. */
  private static TestCistern plain;
  private static Path plainCache;
  private static int plainPort;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void start() throws Exception {
    upstream.push("team/app", "1.0", app);
    upstreams = """
        upstreams:
          - host: %s
            url: %s
        """.formatted(UPSTREAM, upstream.url());
    plainCache = temp.resolve("plain/cache");
    plain = TestCistern.fromYaml(temp.resolve("plain"), "cache:\n  directory: %s\n%s".formatted(plainCache, upstreams));
    plainPort = plain.cistern().adminAddress().getPort();
    CisternCli.forCache(temp.resolve("plain/cli.yml"), plainCache, plainPort, upstreams).run("warm", APP).orFail();
  }

  @AfterAll
  static void stop() {
    plain.close();
  }

  @Test
  void withATokenOnlyProbesMetricsAndTheStatusPageAreOpenAndTheCliSendsTheToken() throws Exception {
    Path cache = temp.resolve("token/cache");
    try (TestCistern server = TestCistern.fromYaml(temp.resolve("token"), "cache:\n  directory: %s\n%s".formatted(cache, upstreams),
        Clock.systemUTC(), Map.of("CISTERN_ADMIN_TOKEN", TOKEN))) {
      int port = server.cistern().adminAddress().getPort();
      for (String open : List.of("/metrics", "/healthz", "/readyz", "/status", "/status/status.js", "/api/stats")) {
        assertEquals(200, call(port, "GET", open, null).statusCode(), open);
      }
      record Route(String method, String path, String body) {}
      List<Route> guarded = List.of(
          new Route("GET", "/api/images", null),
          new Route("GET", "/api/jobs?id=1", null),
          new Route("POST", "/api/pin", "{\"image\":\"" + APP + "\"}"),
          new Route("POST", "/api/unpin", "{\"image\":\"" + APP + "\"}"),
          new Route("POST", "/api/purge", "{\"olderThan\":\"1s\"}"),
          new Route("POST", "/api/warm", "{\"images\":[\"" + APP + "\"]}"),
          new Route("POST", "/api/export", "{\"out\":\"x.tar\",\"images\":[\"" + APP + "\"]}"),
          new Route("POST", "/api/import", "{\"file\":\"x.tar\"}"),
          new Route("POST", "/api/verify", "{\"repair\":true}"));
      for (Route route : guarded) {
        HttpResponse<String> none = call(port, route.method(), route.path(), route.body());
        assertEquals(401, none.statusCode(), route + ": " + none.body());
        assertTrue(none.headers().firstValue("WWW-Authenticate").orElse("").startsWith("Bearer realm="), route.toString());
        assertTrue(error(none).contains("admin token"), none.body());
        for (String wrong : List.of("Bearer " + TOKEN.substring(1), "Bearer " + TOKEN + "x", "Basic " + TOKEN)) {
          HttpResponse<String> refused = call(port, route.method(), route.path(), route.body(), "Authorization", wrong);
          assertEquals(401, refused.statusCode(), route + " with " + wrong);
        }
      }
      HttpResponse<String> noJob = call(port, "GET", "/api/jobs?id=1", null, "Authorization", "Bearer " + TOKEN);
      assertEquals(404, noJob.statusCode(), "no refused request started a job: " + noJob.body());
      assertFalse(Files.exists(cache.resolve("bundles/x.tar")));

      CisternCli withoutToken = CisternCli.forCache(temp.resolve("token/cli.yml"), cache, port, upstreams);
      for (List<String> command : List.of(List.of("ls"), List.of("pin", APP), List.of("purge", "--older-than", "1s"))) {
        CisternCli.Run refused = withoutToken.run(command.toArray(String[]::new));
        assertEquals(1, refused.exitCode(), command.toString());
        assertTrue(refused.err().contains("admin token"), refused.err());
      }

      CisternCli cli = withoutToken.withEnvironment(Map.of("CISTERN_ADMIN_TOKEN", TOKEN));
      CacheDirectory served = server.cistern().cache();
      cli.run("warm", APP).orFail();
      assertTrue(served.blobs().contains(app.digest()));
      assertTrue(cli.run("ls").orFail().out().contains(APP));
      cli.run("pin", APP).orFail();
      assertTrue(served.catalog().isPinnedImage(app.digest()));
      cli.run("unpin", APP).orFail();
      assertFalse(served.catalog().isPinnedImage(app.digest()));
      Path bundle = cache.resolve("bundles/app.tar");
      cli.run("export", "--out", bundle.toString(), APP).orFail();
      assertTrue(Files.size(bundle) > 0);
      cli.run("purge", APP).orFail();
      assertFalse(served.blobs().contains(app.digest()));
      cli.run("import", bundle.toString()).orFail();
      assertTrue(served.blobs().contains(app.digest()), "imported back");
      assertTrue(cli.run("purge", "--older-than", "30d").orFail().out().contains(": 0 blobs"));
      assertEquals(200, call(port, "GET", "/api/images", null, "Authorization", "Bearer " + TOKEN).statusCode());
    }
  }

  @Test
  void withoutATokenOperationsAreTakenOnlyFromThisMachineUnderALoopbackName() throws Exception {
    String pin = "{\"image\":\"" + UNCACHED + "\"}";
    for (String host : List.of("127.0.0.1:" + plainPort, "localhost:" + plainPort)) {
      Answer answer = raw(plainPort, "POST", "/api/pin", host, pin);
      assertEquals(404, answer.status(), "past the guard to the operation, which finds nothing: " + answer.body());
    }
    Answer rebound = raw(plainPort, "POST", "/api/pin", "rebind.example:" + plainPort, "{\"image\":\"" + APP + "\"}");
    assertEquals(403, rebound.status(), "a DNS-rebinding page reaches loopback under its own name");
    assertTrue(rebound.body().contains("admin.token"), rebound.body());
    assertFalse(plain.cistern().cache().catalog().isPinnedImage(app.digest()));
    assertEquals(200, raw(plainPort, "GET", "/api/images", "rebind.example:" + plainPort, null).status(),
        "listings stay open without a token");
  }

  @Test
  void aWebPageCannotDriveTheApi() throws Exception {
    String purge = "{\"olderThan\":\"1s\"}";
    HttpResponse<String> plainText = call(plainPort, "POST", "/api/purge", purge, "Content-Type", "text/plain");
    assertEquals(415, plainText.statusCode(), "a text/plain POST needs no preflight, so it is refused");
    assertTrue(error(plainText).contains("application/json"), plainText.body());
    HttpResponse<String> form = call(plainPort, "POST", "/api/purge", purge, "Content-Type", "application/x-www-form-urlencoded");
    assertEquals(415, form.statusCode());
    assertEquals(415, call(plainPort, "POST", "/api/purge", purge).statusCode(), "no Content-Type at all");
    assertTrue(plain.cistern().cache().blobs().contains(app.digest()), "nothing was purged");

    String foreign = "http://evil.example";
    HttpResponse<String> crossOrigin = call(plainPort, "POST", "/api/purge", purge,
        "Content-Type", "application/json", "Origin", foreign);
    assertEquals(403, crossOrigin.statusCode());
    assertTrue(error(crossOrigin).contains("another origin"), crossOrigin.body());
    assertEquals(403, call(plainPort, "GET", "/api/stats", null, "Origin", foreign).statusCode());
    assertEquals(403, call(plainPort, "GET", "/api/stats", null, "Origin", "null").statusCode());
    assertTrue(plain.cistern().cache().blobs().contains(app.digest()), "nothing was purged");

    HttpResponse<String> sameOrigin = call(plainPort, "POST", "/api/pin", "{\"image\":\"" + UNCACHED + "\"}",
        "Content-Type", "application/json", "Origin", "http://127.0.0.1:" + plainPort);
    assertEquals(404, sameOrigin.statusCode(), "the listener's own page may call it: " + sameOrigin.body());
  }

  @Test
  void bundlesAreReadAndWrittenOnlyInTheBundleDirectoryAndOnlyAsRegularFiles() throws Exception {
    Path bundles = plainCache.resolve("bundles");
    assertTrue(Files.isDirectory(bundles), "created at start, for operators to copy bundles into");
    Path outside = Files.createDirectories(temp.resolve("outside"));
    Path secret = Files.writeString(outside.resolve("secret.tar"), "not a bundle of yours");
    Set<Path> before = listing(bundles);

    for (String name : List.of("../outside/x.tar", outside.resolve("x.tar").toString(), "sub/x.tar", ".hidden.tar",
        "", "..", ".", "../cache/bundles/../../outside/x.tar", "./../x.tar")) {
      HttpResponse<String> export = post("/api/export", "{\"out\":" + JSON.writeValueAsString(name) + ",\"images\":[\"" + APP + "\"]}");
      assertEquals(400, export.statusCode(), name + ": " + export.body());
    }
    for (String name : List.of("../outside/secret.tar", secret.toString(), "sub/../../outside/secret.tar")) {
      HttpResponse<String> imported = post("/api/import", "{\"file\":" + JSON.writeValueAsString(name) + "}");
      assertEquals(400, imported.statusCode(), name + ": " + imported.body());
    }
    assertEquals(Set.of(secret), listing(outside), "nothing was written outside");

    Files.createSymbolicLink(bundles.resolve("link.tar"), secret);
    HttpResponse<String> linkImport = post("/api/import", "{\"file\":\"link.tar\"}");
    assertEquals(400, linkImport.statusCode());
    assertTrue(error(linkImport).contains("symbolic link"), linkImport.body());
    HttpResponse<String> linkExport = post("/api/export", "{\"out\":\"link.tar\",\"images\":[\"" + APP + "\"]}");
    assertEquals(400, linkExport.statusCode());
    assertTrue(error(linkExport).contains("symbolic link"), linkExport.body());
    assertEquals("not a bundle of yours", Files.readString(secret));

    Files.createDirectory(bundles.resolve("directory.tar"));
    HttpResponse<String> directory = post("/api/import", "{\"file\":\"directory.tar\"}");
    assertEquals(400, directory.statusCode());
    assertTrue(error(directory).contains("not a regular file"), directory.body());
    assertEquals(404, post("/api/import", "{\"file\":\"missing.tar\"}").statusCode());

    Path taken = Files.writeString(bundles.resolve("taken.tar"), "someone's file");
    HttpResponse<String> overwrite = post("/api/export", "{\"out\":\"taken.tar\",\"images\":[\"" + APP + "\"]}");
    assertEquals(409, overwrite.statusCode(), overwrite.body());
    assertEquals("someone's file", Files.readString(taken));

    Set<Path> expected = Stream.concat(before.stream(),
        Stream.of("link.tar", "directory.tar", "taken.tar").map(bundles::resolve)).collect(Collectors.toSet());
    assertEquals(expected, listing(bundles), "no refused request left a file behind");
  }

  @Test
  void aFifoInTheBundleDirectoryIsRefusedAtOnceInsteadOfHangingAnImport() throws Exception {
    Path fifo = plainCache.resolve("bundles/pipe.tar");
    Process mkfifo = new ProcessBuilder("mkfifo", fifo.toString()).redirectErrorStream(true).start();
    assumeTrue(mkfifo.waitFor() == 0, "mkfifo is available");
    HttpResponse<String> imported = post("/api/import", "{\"file\":\"pipe.tar\"}");
    assertEquals(400, imported.statusCode());
    assertTrue(error(imported).contains("not a regular file"), imported.body());
  }

  @Test
  void malformedUrisAreAnsweredWithAJsonBadRequest() throws Exception {
    for (String target : List.of("/api/images?repository=%zz", "/api/images?limit=%", "/api/st%zats", "/%E0%A4%A")) {
      Answer answer = raw(plainPort, "GET", target, "127.0.0.1:" + plainPort, null);
      assertEquals(400, answer.status(), target + ": " + answer.body());
      assertTrue(JSON.readTree(answer.body()).get("error").asText().contains("malformed request URI"), answer.body());
    }
  }

  @Test
  @Timeout(60)
  void anIdleAdminConnectionIsClosed() throws Exception {
    try (TestCistern server = TestCistern.fromYaml(temp.resolve("idle"), "cache:\n  directory: %s\n".formatted(temp.resolve("idle/cache")),
        Clock.systemUTC(), Map.of("CISTERN_ADMIN_IDLETIMEOUT", "200ms"))) {
      int port = server.cistern().adminAddress().getPort();
      try (RawHttpConnection silent = RawHttpConnection.open(port, 0)) {
        assertEquals(0, silent.readUpTo(1).length, "a connection that never sends a request is closed");
      }
      try (RawHttpConnection used = RawHttpConnection.open(port, 0)) {
        used.send("GET", "/healthz");
        RawHttpConnection.Head head = used.readHead();
        assertEquals(200, head.status());
        assertEquals("ok\n", new String(used.readUpTo(head.contentLength()), StandardCharsets.UTF_8));
        assertEquals(0, used.readUpTo(1).length, "a kept-alive connection that goes quiet is closed");
      }
    }
  }

  @Test
  void jobsBeyondTheCapAreAnswered429() throws Exception {
    Path config = Files.createDirectories(temp.resolve("cap")).resolve("cistern.yml");
    Files.writeString(config, "cache:\n  directory: %s\n%s".formatted(temp.resolve("cap/cache"), upstreams));
    CisternConfig settings = new ConfigLoader().load(config, Map.of());
    try (Cistern.Tools tools = Cistern.openTools(Settings.of(settings), Clock.systemUTC(), Map.of())) {
      // An executor that never runs anything: every job started stays unfinished.
      Jobs jobs = new Jobs(task -> {});
      AdminRoutes routes = new OperationsApi(tools.operations(), jobs, Runnable::run,
          BundleDirectory.create(temp.resolve("cap/bundles"))).register(new AdminRoutes());
      try (AdminServer server = new AdminServer(routes, new AdminGuard(null), Duration.ofMinutes(1))) {
        int port = server.start(new InetSocketAddress("127.0.0.1", 0)).getPort();
        String warm = "{\"images\":[\"" + APP + "\"]}";
        for (int i = 0; i < Jobs.MAX_UNFINISHED; i++) {
          assertEquals(202, call(port, "POST", "/api/warm", warm, "Content-Type", "application/json").statusCode());
        }
        HttpResponse<String> refused = call(port, "POST", "/api/warm", warm, "Content-Type", "application/json");
        assertEquals(429, refused.statusCode());
        assertTrue(error(refused).contains("jobs are running or waiting"), refused.body());
        assertEquals("running", JSON.readTree(call(port, "GET", "/api/jobs?id=1", null).body()).get("state").asText());
      }
    }
  }

  // ---- helpers ----

  private HttpResponse<String> post(String path, String json) throws IOException, InterruptedException {
    return call(plainPort, "POST", path, json, "Content-Type", "application/json");
  }

  /** A request to the admin listener on {@code port}; {@code headers} are name, value pairs. */
  private HttpResponse<String> call(int port, String method, String path, String body, String... headers)
      throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    HttpResponse<String> response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
    if (response.statusCode() >= 400) {
      assertEquals("application/json", response.headers().firstValue("Content-Type").orElse(""), "errors are JSON");
    }
    return response;
  }

  private static String error(HttpResponse<String> response) throws IOException {
    return JSON.readTree(response.body()).get("error").asText();
  }

  private record Answer(int status, String body) {}

  /** A request written byte for byte: with a Host a client library would not send, or a URI it would not accept. */
  private static Answer raw(int port, String method, String target, String host, String json) throws IOException {
    byte[] body = json == null ? new byte[0] : json.getBytes(StandardCharsets.UTF_8);
    String request = method + " " + target + " HTTP/1.1\r\nHost: " + host + "\r\nConnection: close\r\n"
        + (json == null ? "" : "Content-Type: application/json\r\nContent-Length: " + body.length + "\r\n") + "\r\n"
        + new String(body, StandardCharsets.ISO_8859_1);
    try (RawHttpConnection connection = RawHttpConnection.open(port, 0)) {
      connection.sendRaw(request);
      RawHttpConnection.Head head = connection.readHead();
      return new Answer(head.status(), new String(connection.readUpTo(head.contentLength()), StandardCharsets.UTF_8));
    }
  }

  private static Set<Path> listing(Path directory) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return files.collect(Collectors.toSet());
    }
  }
}
