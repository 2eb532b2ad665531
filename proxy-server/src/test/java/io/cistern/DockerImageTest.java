package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.testcontainers.containers.GenericContainer;
import org.testcontainers.containers.wait.strategy.Wait;
import org.testcontainers.images.builder.ImageFromDockerfile;
import org.testcontainers.junit.jupiter.Testcontainers;

/**
 * Builds the image from docker/Dockerfile and runs it: it starts on its defaults, answers the
 * registry API on 5000 and its health check on 9090. Needs a Docker engine, so it is skipped where
 * none runs (as on the CI machines); the same server is proven without Docker by every other test,
 * and the Dockerfile's build command by DeploymentFilesTest.
 */
@Testcontainers(disabledWithoutDocker = true)
class DockerImageTest {

  @Test
  void theImageStartsOnItsDefaultsAndAnswersTheRegistryApi() throws Exception {
    Path root = Path.of(System.getProperty("user.dir")).getParent();
    ImageFromDockerfile image = new ImageFromDockerfile("cistern-test", true)
        .withFileFromPath(".", root)
        .withDockerfile(root.resolve("docker/Dockerfile"));
    try (GenericContainer<?> cistern = new GenericContainer<>(image)
        .withExposedPorts(5000, 9090)
        .waitingFor(Wait.forHttp("/healthz").forPort(9090).withStartupTimeout(Duration.ofMinutes(2)))) {
      cistern.start();
      HttpResponse<String> base = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
          URI.create("http://" + cistern.getHost() + ":" + cistern.getMappedPort(5000) + "/v2/")).build(),
          HttpResponse.BodyHandlers.ofString());
      assertEquals(200, base.statusCode());
      assertEquals("registry/2.0", base.headers().firstValue("Docker-Distribution-API-Version").orElseThrow());
    }
  }
}
