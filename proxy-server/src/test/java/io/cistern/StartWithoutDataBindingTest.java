package io.cistern;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CisternProcess;
import io.cistern.testing.DistributionRegistry;
import io.cistern.testing.LoopbackConfig;
import io.cistern.testing.RegistryPusher;
import io.cistern.testing.TestImage;
import io.cistern.testing.TokenIssuer;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * A start, and the pulls after it, load none of Jackson's data binding (some 550 classes: each
 * resident in every idle process, and ~0.2 s of loading in the first pull after a start): the
 * configuration is read without it, and so are manifests and token answers. JSON answers (errors,
 * the referrers API, the admin API) still load it when they are first asked for.
 */
class StartWithoutDataBindingTest {

  private static final String USER = "puller";
  private static final String PASSWORD = "pull-secret";

  @TempDir
  Path temp;

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @Test
  void aStartThatAnswersTheProbesLoadsNoDataBinding() throws Exception {
    Path config = LoopbackConfig.write(temp.resolve("cistern.yml"), temp.resolve("cache"), "http://127.0.0.1:9");
    Path classes = temp.resolve("classes.log");
    try (CisternProcess cistern = CisternProcess.start(config, List.of("-Xlog:class+load=info:file=" + classes))) {
      assertEquals(200, get("http://" + cistern.hostPort() + "/v2/"));
      assertEquals(200, get("http://127.0.0.1:" + cistern.adminPort() + "/healthz"));
      assertEquals(200, get("http://127.0.0.1:" + cistern.adminPort() + "/readyz"));
      // Read while the process still runs: its stop is no part of an idle process.
      List<String> loaded = Files.readAllLines(classes);
      assertTrue(loaded.stream().anyMatch(line -> line.contains(" io.cistern.config.CisternConfig ")), "the log lists classes");
      assertEquals(List.of(), dataBinding(loaded));
    }
  }

  /**
   * Cold pulls (manifest by tag, then by digest, then its blobs) from a real Distribution without
   * authentication and from one behind a token server, as a client pulls right after a start.
   */
  @Test
  void aPullFromAnOpenAndATokenUpstreamLoadsNoDataBinding() throws Exception {
    TestImage image = TestImage.random(16, 2, 20_000, "amd64");
    try (TokenIssuer issuer = TokenIssuer.start(Files.createDirectories(temp.resolve("issuer")), USER, PASSWORD);
        DistributionRegistry open = DistributionRegistry.start(temp.resolve("open"))) {
      new RegistryPusher(open.url()).push("team/app", "1.0", image);
      // Seeded while open, then served behind the token server: the push needs no token.
      try (DistributionRegistry seeded = DistributionRegistry.start(temp.resolve("token"))) {
        new RegistryPusher(seeded.url()).push("team/app", "1.0", image);
      }
      try (DistributionRegistry token = DistributionRegistry.start(temp.resolve("token"), issuer.authSection())) {
        Path config = LoopbackConfig.write(temp.resolve("cistern.yml"), temp.resolve("cache"), List.of(
            new LoopbackConfig.Upstream("open.test", open.url().toString(), ""),
            new LoopbackConfig.Upstream("token.test", token.url().toString(),
                "username: " + USER + "\npassword: " + PASSWORD)));
        Path classes = temp.resolve("classes.log");
        try (CisternProcess cistern = CisternProcess.start(config, List.of("-Xlog:class+load=info:file=" + classes))) {
          pull(cistern, "open.test", image);
          pull(cistern, "token.test", image);
          assertEquals(1, issuer.fetches("repository:team/app:pull"), "the token upstream's pull took a token");
          List<String> loaded = Files.readAllLines(classes);
          assertTrue(loaded.stream().anyMatch(line -> line.contains(" io.cistern.oci.ManifestDocument ")), "a manifest was read");
          assertEquals(List.of(), dataBinding(loaded));
        }
      }
    }
  }

  private void pull(CisternProcess cistern, String upstream, TestImage image) throws Exception {
    String repository = "http://" + cistern.hostPort() + "/v2/" + upstream + "/team/app/";
    for (String reference : List.of("1.0", image.digest().toString())) {
      HttpResponse<byte[]> manifest = http.send(HttpRequest.newBuilder(URI.create(repository + "manifests/" + reference))
          .header("Accept", image.manifest().mediaType()).build(), HttpResponse.BodyHandlers.ofByteArray());
      assertEquals(200, manifest.statusCode(), () -> upstream + ": " + new String(manifest.body()));
      assertArrayEquals(image.manifest().bytes(), manifest.body());
    }
    for (TestImage.Blob blob : image.blobs()) {
      HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(URI.create(repository + "blobs/" + blob.digest())).build(),
          HttpResponse.BodyHandlers.ofByteArray());
      assertEquals(200, response.statusCode(), upstream);
      assertArrayEquals(blob.bytes(), response.body(), upstream);
    }
  }

  private static List<String> dataBinding(List<String> loaded) {
    return loaded.stream().filter(line -> line.contains(" com.fasterxml.jackson.databind."))
        .map(line -> line.replaceFirst(".*\\] (\\S+) .*", "$1")).toList();
  }

  private int get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }
}
