package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CisternProcess;
import io.cistern.testing.LoopbackConfig;
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
 * A start that serves no manifest loads none of Jackson's data binding (some 500 classes, each
 * resident in every idle process): the configuration is read without it, and manifests and JSON
 * answers load it when they are first asked for.
 */
class StartWithoutDataBindingTest {

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
      assertEquals(List.of(), loaded.stream().filter(line -> line.contains(" com.fasterxml.jackson.databind."))
          .map(line -> line.replaceFirst(".*\\] (\\S+) .*", "$1")).toList());
    }
  }

  private int get(String url) throws Exception {
    return http.send(HttpRequest.newBuilder(URI.create(url)).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }
}
