package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.CisternCli;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCistern.UpstreamUrl;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Repository rules end to end: one Cistern in front of two real Distribution registries,
 * {@code docker.io} (the default; {@code allow: [library/*, team/**]}, {@code deny: [team/secret/**]})
 * and {@code ghcr.io} ({@code deny: ['**&#47;private']}), each behind a counting relay. Every image
 * used is really on its upstream, so a refusal is the rule's doing: a 403 DENIED that reached no
 * upstream, by every way a client names the upstream, for cached content too, and for the
 * operator's warm and import.
 */
class RepositoryRulesPullThroughTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final HttpClient HTTP = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream hub = new RealUpstream();

  @RegisterExtension
  static final RealUpstream ghcr = new RealUpstream();

  private static final TestImage official = TestImage.random(81, 1, 10_000, "amd64");
  private static final TestImage deep = TestImage.random(82, 2, 10_000, "amd64");
  private static final TestImage secret = TestImage.random(83, 2, 10_000, "amd64");
  private static final TestImage stranger = TestImage.random(84, 1, 10_000, "amd64");
  private static final TestImage nested = TestImage.random(85, 1, 10_000, "amd64");
  private static final TestImage onGhcr = TestImage.random(86, 1, 10_000, "amd64");
  private static final TestImage privateOnGhcr = TestImage.random(87, 1, 10_000, "amd64");

  private static CountingRelay toHub;
  private static CountingRelay toGhcr;
  private static String upstreams;
  private static TestCistern cistern;
  private static Skopeo skopeo;

  @BeforeAll
  static void start() throws Exception {
    hub.push("library/alpine", "3", official);
    hub.push("team/app/deep", "1", deep);
    hub.push("team/secret/key", "1", secret);
    hub.push("team/secret/copy", "1", official);
    hub.push("someone/app", "1", stranger);
    hub.push("library/tools/nested", "1", nested);
    ghcr.push("org/app", "1", onGhcr);
    ghcr.push("org/private", "1", privateOnGhcr);
    toHub = CountingRelay.to(hub.port());
    toGhcr = CountingRelay.to(ghcr.port());
    upstreams = rules(toHub.url(), toGhcr.url(), "");
    cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %s
        %s""".formatted(temp.resolve("cistern/cache"), upstreams));
    skopeo = new Skopeo(temp.resolve("skopeo"));
  }

  /** The rules under test, for upstreams at these urls, with {@code more} (offline: true) for each. */
  private static String rules(URI hubUrl, URI ghcrUrl, String more) {
    return """
        upstreams:
          - host: docker.io
            url: %s
            repositories:
              allow: [library/*, team/**]
              deny: [team/secret/**]
            %s
          - host: ghcr.io
            url: %s
            repositories:
              deny: ['**/private']
            %s
        defaultUpstream: docker.io
        """.formatted(hubUrl, more, ghcrUrl, more);
  }

  @AfterAll
  static void stop() throws Exception {
    cistern.close();
    toHub.close();
    toGhcr.close();
  }

  @Test
  void aRefusedNameIsDeniedAtEveryEndpointByEveryRouteAndNoUpstreamIsAsked() throws Exception {
    String layer = secret.blobs().get(1).digest().toString();
    int hubBefore = toHub.requests().size();
    int ghcrBefore = toGhcr.requests().size();
    int hubLogBefore = hub.accessLog().size();
    int ghcrLogBefore = ghcr.accessLog().size();

    List<String> refused = new ArrayList<>();
    // Not in allow; denied though team/** allows it; library/* is one segment deep, not two.
    for (String name : List.of("someone/app", "team/secret/key", "library/tools/nested")) {
      for (String route : List.of("/v2/" + name + "/%s", "/v2/docker.io/" + name + "/%s", "/v2/" + name + "/%s?ns=docker.io")) {
        for (String endpoint : List.of("manifests/1", "blobs/" + layer, "tags/list", "referrers/" + secret.digest())) {
          refused.add(route.formatted(endpoint));
        }
      }
    }
    for (String route : List.of("/v2/ghcr.io/org/private/%s", "/v2/org/private/%s?ns=ghcr.io")) {
      for (String endpoint : List.of("manifests/1", "blobs/" + privateOnGhcr.blobs().get(1).digest(), "tags/list")) {
        refused.add(route.formatted(endpoint));
      }
    }
    for (String path : refused) {
      for (String method : List.of("GET", "HEAD")) {
        HttpResponse<byte[]> response = cistern.send(method, path, "Accept", MediaTypes.OCI_MANIFEST);
        assertEquals(403, response.statusCode(), method + " " + path);
        if (method.equals("GET")) {
          JsonNode error = JSON.readTree(response.body()).path("errors").path(0);
          assertEquals("DENIED", error.path("code").asText(), path);
          assertTrue(error.path("message").asText().contains("is not served by this cache"), error.toString());
        }
      }
    }
    HttpResponse<byte[]> denyWins = cistern.get("/v2/team/secret/key/manifests/1");
    assertTrue(new String(denyWins.body()).contains("matches repositories.deny 'team/secret/**'"), new String(denyWins.body()));

    Skopeo.Result pull = skopeo.run("--insecure-policy", "copy", "--src-tls-verify=false",
        "docker://" + cistern.hostPort() + "/team/secret/key:1", "dir:" + temp.resolve("refused"));
    assertNotEquals(0, pull.exitCode(), "skopeo cannot pull a refused image");
    assertTrue(pull.output().contains("denied"), pull.output());

    // The relays see a request as it is sent; the registries' access logs agree.
    assertEquals(hubBefore, toHub.requests().size(), "nothing reached docker.io");
    assertEquals(ghcrBefore, toGhcr.requests().size(), "nothing reached ghcr.io");
    assertEquals(hubLogBefore, hub.accessLog().size());
    assertEquals(ghcrLogBefore, ghcr.accessLog().size());
  }

  @Test
  void allowedNamesPullWithSkopeoAtAnyDepthTheirGlobAllows() throws Exception {
    pull("/alpine:3", official);              // library/* allows library/alpine, as docker.io names alpine
    pull("/team/app/deep:1", deep);           // team/** reaches three segments down
    pull("/docker.io/team/app/deep:1", deep); // the path prefix obeys the same rules
    pull("/ghcr.io/org/app:1", onGhcr);       // ghcr.io denies only **/private
  }

  @Test
  void aRuleRefusesWhatIsAlreadyCachedWhileOperatorsCanStillListAndPurgeIt() throws Exception {
    Path cache = temp.resolve("cached/cache");
    String layer = "/v2/team/secret/key/blobs/" + secret.blobs().get(1).digest();
    try (TestCistern open = TestCistern.forUpstreams(temp.resolve("cached"), Clock.systemUTC(),
        new UpstreamUrl("docker.io", toHub.url()))) {
      skopeo.copy("--src-tls-verify=false", "docker://" + open.hostPort() + "/team/secret/key:1",
          "dir:" + temp.resolve("cached-pull"));
    }
    int hubBefore = toHub.requests().size();
    try (TestCistern ruled = TestCistern.fromYaml(temp.resolve("cached"), """
        cache:
          directory: %s
        %s""".formatted(cache, upstreams))) {
      assertEquals(403, ruled.get("/v2/team/secret/key/manifests/1").statusCode(), "the rule is policy, not a cache miss");
      assertEquals(403, ruled.get(layer).statusCode());
      assertEquals(hubBefore, toHub.requests().size());

      // Operators' work on what is cached reaches no upstream, so the rules leave it be.
      CisternCli cli = CisternCli.forCache(temp.resolve("cached/cli.yml"), cache, ruled.cistern().adminAddress().getPort(),
          upstreams);
      String listed = cli.run("ls", "team/secret/key").orFail().out();
      assertTrue(listed.contains("team/secret/key:1"), "still listed: " + listed);
      cli.run("pin", "team/secret/key:1").orFail();
      cli.run("unpin", "team/secret/key:1").orFail();
      cli.run("export", "--out", cache.resolve("bundles/secret.tar").toString(), "team/secret/key:1").orFail();
      cli.run("purge", "team/secret/key:1").orFail();
      assertEquals(hubBefore, toHub.requests().size());
    }
  }

  @Test
  void warmRefusesAnImageTheRulesRefuseThroughTheApiAndTheCliAndFetchesNothing() throws Exception {
    int admin = cistern.cistern().adminAddress().getPort();
    int hubBefore = toHub.requests().size();
    HttpResponse<String> api = call(admin, "POST", "/api/warm",
        "{\"images\":[\"library/alpine:3\",\"docker.io/team/secret/key:1\",\"someone/app:1\"]}");
    assertEquals(403, api.statusCode(), api.body());
    assertTrue(api.body().contains("nothing was warmed"), api.body());
    assertTrue(api.body().contains("docker.io/team/secret/key is not served by this cache"), api.body());
    assertTrue(api.body().contains("docker.io/someone/app is not served by this cache"), api.body());

    CisternCli throughServer = CisternCli.forCache(temp.resolve("cli/server.yml"), temp.resolve("cistern/cache"), admin,
        upstreams);
    CisternCli.Run viaApi = throughServer.run("warm", "ghcr.io/org/private:1");
    assertNotEquals(0, viaApi.exitCode());
    assertTrue(viaApi.err().contains("ghcr.io/org/private is not served by this cache"), viaApi.out() + viaApi.err());

    // With no server running, the CLI warms the cache itself, with the same rules.
    CisternCli local = CisternCli.forCache(temp.resolve("cli/local.yml"), temp.resolve("cli/cache"), 1, upstreams);
    CisternCli.Run direct = local.run("warm", "team/secret/key:1");
    assertNotEquals(0, direct.exitCode());
    assertTrue(direct.err().contains("matches repositories.deny 'team/secret/**'"), direct.out() + direct.err());

    assertEquals(hubBefore, toHub.requests().size(), "no upstream was asked for anything");
    assertEquals(0, toGhcr.count("GET", path -> path.contains("org/private")));
  }

  @Test
  void importSkipsTheImagesTheRulesRefuseNamingThemAndStoresNothingOnlyTheyNeed() throws Exception {
    // A bundle of an allowed image, a refused one, and a refused copy of the allowed one, from a cache without rules.
    Path bundle = temp.resolve("site/cache/bundles/site.tar");
    try (TestCistern site = TestCistern.forUpstreams(temp.resolve("site"), Clock.systemUTC(),
        new UpstreamUrl("docker.io", toHub.url()))) {
      CisternCli cli = CisternCli.forCache(temp.resolve("site/cli.yml"), temp.resolve("site/cache"),
          site.cistern().adminAddress().getPort(), "upstreams: [{host: docker.io, url: " + toHub.url() + "}]");
      cli.run("warm", "library/alpine:3", "team/secret/key:1", "team/secret/copy:1").orFail();
      cli.run("export", "--out", bundle.toString(), "library/alpine:3", "team/secret/key:1", "team/secret/copy:1").orFail();
    }

    // An air-gapped cache with the rules imports it.
    Path cache = temp.resolve("gapped/cache");
    String offline = rules(URI.create("http://127.0.0.1:9"), URI.create("http://127.0.0.1:9"), "offline: true");
    CisternCli cli = CisternCli.forCache(temp.resolve("gapped/cli.yml"), cache, 1, offline);
    CisternCli.Run imported = cli.run("import", bundle.toString()).orFail();
    assertTrue(imported.out().contains("import: 1 images"), imported.out());
    assertTrue(imported.err().contains("warning: docker.io/team/secret/key:1@" + secret.digest() + " was not imported:"
        + " its repository matches repositories.deny 'team/secret/**' of upstream docker.io"), imported.err());
    assertTrue(imported.err().contains("warning: docker.io/team/secret/copy:1@" + official.digest() + " was not imported"),
        imported.err());
    String listed = cli.run("ls").orFail().out();
    assertTrue(listed.contains("docker.io/library/alpine:3") && !listed.contains("team/secret"), listed);

    try (TestCistern gapped = TestCistern.fromYaml(temp.resolve("gapped"), """
        cache:
          directory: %s
        %s""".formatted(cache, offline))) {
      Path out = temp.resolve("gapped-pull");
      skopeo.copy("--src-tls-verify=false", "docker://" + gapped.hostPort() + "/alpine:3", "dir:" + out);
      assertArrayEquals(official.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
      // The refused image's content was never stored: not even by digest under a name the rules allow.
      for (TestImage.Blob blob : secret.allContent()) {
        HttpResponse<byte[]> response = gapped.get("/v2/library/alpine/blobs/" + blob.digest());
        assertEquals(404, response.statusCode(), blob.digest() + ": " + new String(response.body()));
      }
    }

    // A cache whose rules refuse every image of the bundle stores nothing of it.
    Path closed = temp.resolve("closed/cache");
    CisternCli refusing = CisternCli.forCache(temp.resolve("closed/cli.yml"), closed, 1, """
        upstreams:
          - host: docker.io
            url: http://127.0.0.1:9
            offline: true
            repositories: {deny: ['**']}
        """);
    CisternCli.Run none = refusing.run("import", bundle.toString()).orFail();
    assertTrue(none.out().contains("import: 0 images"), none.out());
    assertEquals(3, none.err().lines().filter(line -> line.contains("was not imported")).count(), none.err());
    try (Stream<Path> files = Files.walk(closed.resolve("blobs"))) {
      assertEquals(List.of(), files.filter(Files::isRegularFile).toList(), "no blob stored");
    }
  }

  private static void pull(String reference, TestImage image) throws Exception {
    Path out = temp.resolve("pulled" + reference.replaceAll("[/:@]", "_"));
    skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + reference, "dir:" + out);
    assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")), reference);
    for (TestImage.Blob blob : image.blobs()) {
      assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())), reference);
    }
  }

  private static HttpResponse<String> call(int port, String method, String path, String body) throws Exception {
    HttpRequest request = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
        .method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body))
        .header("Content-Type", "application/json")
        .build();
    return HTTP.send(request, HttpResponse.BodyHandlers.ofString());
  }
}
