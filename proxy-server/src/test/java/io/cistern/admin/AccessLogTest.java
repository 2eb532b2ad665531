package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.http.ServedRequest;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class AccessLogTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ServedRequest BLOB = new ServedRequest(Instant.parse("2026-01-02T03:04:05.678Z"), "10.0.0.7",
      "alice", "GET", "/v2/library/alpine/blobs/sha256:abc?ns=docker.io", "blob", 200, 3_145_728,
      Duration.ofNanos(12_345_678), ServedRequest.Cache.HIT, "docker.io", true);

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private final LoggerContext context = new LoggerContext();

  @Test
  void textLinesAreKeyValuePairsWithEveryField() {
    ListAppender<ILoggingEvent> lines = capture("text");
    new AccessLog(context.getLogger("text"), AccessLog.Format.TEXT).served(BLOB);
    assertEquals("time=2026-01-02T03:04:05.678Z remote=10.0.0.7 user=alice method=GET"
        + " uri=/v2/library/alpine/blobs/sha256:abc?ns=docker.io status=200 bytes=3145728 duration_ms=12.346"
        + " cache=hit upstream=docker.io complete=true", lines.list.get(0).getFormattedMessage());
  }

  @Test
  void textValuesThatCouldBeMisreadAreQuotedAndMissingOnesAreDashes() {
    ListAppender<ILoggingEvent> lines = capture("quoted");
    new AccessLog(context.getLogger("quoted"), AccessLog.Format.TEXT).served(new ServedRequest(BLOB.time(), "10.0.0.7",
        null, "GET", "/v2/a b\"c", "unknown", 404, 0, Duration.ZERO, ServedRequest.Cache.NONE, null, false));
    String line = lines.list.get(0).getFormattedMessage();
    assertTrue(line.contains(" user=- "), line);
    assertTrue(line.contains(" uri=\"/v2/a b\\\"c\" "), line);
    assertTrue(line.contains(" cache=- upstream=- complete=false"), line);
  }

  @Test
  void jsonLinesAreOneObjectEach() throws Exception {
    ListAppender<ILoggingEvent> lines = capture("json");
    new AccessLog(context.getLogger("json"), AccessLog.Format.JSON).served(BLOB);
    JsonNode line = JSON.readTree(lines.list.get(0).getFormattedMessage());
    assertEquals("GET", line.path("method").asText());
    assertEquals(200, line.path("status").asInt());
    assertEquals(3_145_728, line.path("bytes").asLong());
    assertEquals(12.346, line.path("duration_ms").asDouble());
    assertEquals("hit", line.path("cache").asText());
    assertEquals("docker.io", line.path("upstream").asText());
    assertEquals("alice", line.path("user").asText());
  }

  @Test
  void atLevelOffNothingIsWritten() {
    ListAppender<ILoggingEvent> lines = capture("off");
    context.getLogger("off").setLevel(Level.OFF);
    new AccessLog(context.getLogger("off"), AccessLog.Format.JSON).served(BLOB);
    assertTrue(lines.list.isEmpty());
  }

  @Test
  void anUnknownFormatIsAClearError() {
    assertEquals(AccessLog.Format.JSON, AccessLog.Format.parse(" Json "));
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> AccessLog.Format.parse("xml"));
    assertTrue(error.getMessage().contains("log.access.format"));
  }

  @Test
  void aRunningCisternWritesOneJsonLinePerRequestToTheAccessLogger(@TempDir Path temp) throws Exception {
    TestImage image = TestImage.random(51, 1, 1000, "amd64");
    upstream.push("team/app", "1.0", image);
    Logger access = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
    CompletableFuture<String> line = new CompletableFuture<>();
    // Lines are written once an answer has left, which may be after the client has it: wait for
    // the line itself rather than guess how long that takes.
    ListAppender<ILoggingEvent> appender = new ListAppender<>() {
      @Override
      protected void append(ILoggingEvent event) {
        if (event.getFormattedMessage().contains("/manifests/1.0")) {
          line.complete(event.getFormattedMessage());
        }
      }
    };
    appender.start();
    access.addAppender(appender);
    try (TestCistern cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            url: %s
        log:
          access:
            format: json
        """.formatted(temp.resolve("cistern/cache"), upstream.url()))) {
      assertEquals(200, cistern.get("/v2/team/app/manifests/1.0", "Accept", image.manifest().mediaType()).statusCode());
      JsonNode logged = JSON.readTree(line.get(30, TimeUnit.SECONDS));
      assertEquals("/v2/team/app/manifests/1.0", logged.path("uri").asText());
      assertEquals(200, logged.path("status").asInt());
      assertEquals(image.manifest().bytes().length, logged.path("bytes").asLong());
      assertEquals("miss", logged.path("cache").asText());
      assertEquals("upstream.test", logged.path("upstream").asText());
      assertEquals("127.0.0.1", logged.path("remote").asText());
      assertTrue(logged.path("complete").asBoolean());
    } finally {
      access.detachAppender(appender);
    }
  }

  private ListAppender<ILoggingEvent> capture(String name) {
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.setContext(context);
    appender.start();
    context.getLogger(name).addAppender(appender);
    return appender;
  }
}
