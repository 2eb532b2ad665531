package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cistern.cli.ClassDataTraining;
import io.cistern.testing.CisternProcess;
import io.cistern.testing.LoopbackConfig;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * What scripts/run.sh and the image add to the command line is optional: whatever the file at
 * {@code -XX:SharedArchiveFile} is (missing, or not an archive at all), and wherever
 * {@code -Dorg.sqlite.lib.path} points, Cistern starts with the shipped JVM options and answers. A
 * truncated archive is the one thing JDK 17 cannot survive, which is why scripts/cds-archive.sh
 * names an archive only once the JVM has mapped it.
 */
class LaunchOptionsTest {


  @TempDir
  Path temp;

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @Test
  void cisternStartsWhenTheArchiveIsMissing() throws Exception {
    assertStartsAndAnswers(temp.resolve("missing.jsa"));
  }

  @Test
  void cisternStartsWhenTheArchiveIsCorrupt() throws Exception {
    byte[] garbage = new byte[256 * 1024];
    new Random(16).nextBytes(garbage);
    assertStartsAndAnswers(Files.write(temp.resolve("corrupt.jsa"), garbage));
  }

  @Test
  void cisternStartsWhenSqlitesLibraryIsNotWhereItIsLookedFor() throws Exception {
    assertStartsAndAnswers(temp.resolve("missing.jsa"), "-Dorg.sqlite.lib.path=" + temp.resolve("no-such-directory"));
  }

  @Test
  void theTrainingRunStartsAnswersAndStops() throws Exception {
    ClassDataTraining.main(new String[0]); // throws unless /v2/, /healthz and /readyz answered 200
  }

  private void assertStartsAndAnswers(Path archive, String... moreOptions) throws Exception {
    List<String> options = new ArrayList<>(CisternProcess.shippedJvmOptions());
    options.add("-XX:SharedArchiveFile=" + archive);
    options.addAll(List.of(moreOptions));
    try (CisternProcess cistern = CisternProcess.start(config(), options)) {
      HttpResponse<String> answer = http.send(HttpRequest.newBuilder(URI.create("http://" + cistern.hostPort() + "/v2/")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, answer.statusCode());
    }
  }

  private Path config() throws IOException {
    return LoopbackConfig.write(temp.resolve("cistern.yml"), temp.resolve("cache"), "http://127.0.0.1:9");
  }
}
