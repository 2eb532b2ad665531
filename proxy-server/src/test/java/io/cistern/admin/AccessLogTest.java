package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.http.ServedRequest;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.StdoutLines;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

class AccessLogTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final ServedRequest BLOB = new ServedRequest(Instant.parse("2026-01-02T03:04:05.678Z"), "10.0.0.7",
      "alice", "GET", "/v2/library/alpine/blobs/sha256:abc?ns=docker.io", "blob", 200, 3_145_728,
      Duration.ofNanos(12_345_678), ServedRequest.Cache.HIT, "docker.io", true, null);

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private final LoggerContext context = new LoggerContext();

  @Test
  void textLinesAreKeyValuePairsWithEveryField() {
    assertEquals("time=2026-01-02T03:04:05.678Z remote=10.0.0.7 user=alice method=GET"
        + " uri=/v2/library/alpine/blobs/sha256:abc?ns=docker.io status=200 bytes=3145728 duration_ms=12.346"
        + " cache=hit upstream=docker.io complete=true", AccessLog.line(BLOB, AccessLog.Format.TEXT));
  }

  @Test
  void timesAreWrittenAsInstantWritesThemWhateverTheirPrecision() {
    AccessLog.Timestamps times = new AccessLog.Timestamps();
    // In this order: a second's first line formats it, the next ones reuse it, a new second formats again.
    for (String text : List.of("2026-01-02T03:04:05Z", "2026-01-02T03:04:05.678Z", "2026-01-02T03:04:05.000678Z",
        "2026-01-02T03:04:05.000000678Z", "2026-01-02T03:04:05.100Z", "2026-01-02T03:04:06.120300Z",
        "1970-01-01T00:00:00.999999999Z", "2026-12-31T23:59:59.001Z")) {
      Instant time = Instant.parse(text);
      StringBuilder written = new StringBuilder();
      times.append(time, written);
      assertEquals(time.toString(), written.toString());
    }
  }

  @Test
  void durationsAreMillisecondsToTheMicrosecondWithNoExponent() {
    assertTrue(lineLasting(Duration.ZERO).contains(" duration_ms=0.0 "));
    assertTrue(lineLasting(Duration.ofNanos(50_000)).contains(" duration_ms=0.05 "));
    assertTrue(lineLasting(Duration.ofNanos(1_499)).contains(" duration_ms=0.001 "));
    assertTrue(lineLasting(Duration.ofMillis(7)).contains(" duration_ms=7.0 "));
    assertTrue(lineLasting(Duration.ofHours(3)).contains(" duration_ms=10800000.0 "));
    assertTrue(lineLasting(Duration.ofNanos(-1_500_000)).contains(" duration_ms=-1.5 "));
  }

  private static String lineLasting(Duration duration) {
    return AccessLog.line(new ServedRequest(BLOB.time(), "10.0.0.7", null, "GET", "/v2/", "base", 200, 0, duration,
        ServedRequest.Cache.NONE, null, true, null), AccessLog.Format.TEXT);
  }

  @Test
  void textValuesThatCouldBeMisreadAreQuotedAndMissingOnesAreDashes() {
    String line = AccessLog.line(new ServedRequest(BLOB.time(), "10.0.0.7", null, "GET", "/v2/a b\"c", "unknown", 404, 0,
        Duration.ZERO, ServedRequest.Cache.NONE, null, false, null), AccessLog.Format.TEXT);
    assertTrue(line.contains(" user=- "), line);
    assertTrue(line.contains(" uri=\"/v2/a b\\\"c\" "), line);
    assertTrue(line.contains(" cache=- upstream=- complete=false"), line);
  }

  @Test
  void jsonLinesAreOneObjectEach() throws Exception {
    JsonNode line = JSON.readTree(AccessLog.line(BLOB, AccessLog.Format.JSON));
    assertEquals("GET", line.path("method").asText());
    assertEquals(200, line.path("status").asInt());
    assertEquals(3_145_728, line.path("bytes").asLong());
    assertEquals(12.346, line.path("duration_ms").asDouble());
    assertEquals("hit", line.path("cache").asText());
    assertEquals("docker.io", line.path("upstream").asText());
    assertEquals("alice", line.path("user").asText());
    assertTrue(JSON.readTree(AccessLog.line(new ServedRequest(BLOB.time(), "10.0.0.7", null, "GET", "/v2/\u00e9\n\"",
        "unknown", 404, 0, Duration.ZERO, ServedRequest.Cache.NONE, null, false, null), AccessLog.Format.JSON)).path("user").isNull());
  }

  @Test
  void theWriterWritesEveryLineToItsSink() throws Exception {
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    AccessLog log = new AccessLog(context.getLogger("sink"), AccessLog.Format.TEXT, sink, 16);
    for (int i = 0; i < 10; i++) {
      log.served(BLOB);
    }
    log.close();
    String expected = (AccessLog.line(BLOB, AccessLog.Format.TEXT) + "\n").repeat(10);
    assertEquals(expected, sink.toString(StandardCharsets.UTF_8));
    assertEquals(0, log.dropped());
  }

  @Test
  void atLevelOffNothingIsWritten() {
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    context.getLogger("off").setLevel(Level.OFF);
    AccessLog log = new AccessLog(context.getLogger("off"), AccessLog.Format.JSON, sink, 16);
    log.served(BLOB);
    log.close();
    assertEquals(0, sink.size());
  }

  @Test
  void anUnknownFormatIsAClearError() {
    assertEquals(AccessLog.Format.JSON, AccessLog.Format.parse(" Json "));
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> AccessLog.Format.parse("xml"));
    assertTrue(error.getMessage().contains("log.access.format"));
  }

  @Test
  void aRunningCisternWritesOneJsonLinePerRequestToStdout(@TempDir Path temp) throws Exception {
    TestImage image = TestImage.random(51, 1, 1000, "amd64");
    upstream.push("team/app", "1.0", image);
    // Lines are written once an answer has left, which may be after the client has it: wait for
    // the line itself rather than guess how long that takes.
    StdoutLines lines = StdoutLines.watch(text -> text.contains("/manifests/1.0"));
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
      JsonNode logged = JSON.readTree(lines.first().get(30, TimeUnit.SECONDS));
      assertEquals("/v2/team/app/manifests/1.0", logged.path("uri").asText());
      assertEquals(200, logged.path("status").asInt());
      assertEquals(image.manifest().bytes().length, logged.path("bytes").asLong());
      assertEquals("miss", logged.path("cache").asText());
      assertEquals("upstream.test", logged.path("upstream").asText());
      assertEquals("127.0.0.1", logged.path("remote").asText());
      assertTrue(logged.path("complete").asBoolean());
    } finally {
      lines.close();
    }
  }
}
