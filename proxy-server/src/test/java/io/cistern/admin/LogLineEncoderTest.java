package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.encoder.PatternLayoutEncoder;
import ch.qos.logback.classic.spi.LoggingEvent;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** Cistern's log lines are those of the pattern they replace, stack traces included. */
class LogLineEncoderTest {

  /** What Cistern's lines looked like when Logback's PatternLayout wrote them. */
  private static final String PATTERN = "%d{yyyy-MM-dd'T'HH:mm:ss.SSSX} %-5level [%thread] %logger{20} - %msg%n";

  private final LoggerContext context = new LoggerContext();

  @Test
  void aLineIsWhatThePatternWrote() {
    for (Level level : new Level[] {Level.INFO, Level.WARN, Level.ERROR, Level.DEBUG}) {
      LoggingEvent event = event(level, "io.cistern.http.RegistryServer", "registry listening on {} ({})", null,
          "/127.0.0.1:5000", "epoll");
      assertEquals(patterned(event), encoded(event));
    }
    LoggingEvent shortName = event(Level.INFO, "io.cistern.Cistern", "mirroring {} ünïcode", null, "docker.io");
    assertEquals(patterned(shortName), encoded(shortName));
    assertTrue(encoded(shortName).contains(" INFO  [main] io.cistern.Cistern - mirroring docker.io ünïcode\n"),
        encoded(shortName));
  }

  @Test
  void anExceptionFollowsItsLineWithItsStackTraceAndCauses() {
    IOException cause = new IOException("disk gone");
    LoggingEvent event = event(Level.WARN, "io.cistern.cache.BlobCache", "cannot store {}", new UncheckedIOException("store", cause),
        "sha256:abc");
    String encoded = encoded(event);
    assertEquals(patterned(event), encoded);
    assertTrue(encoded.contains("java.io.UncheckedIOException: store\n\tat io.cistern.admin.LogLineEncoderTest"), encoded);
    assertTrue(encoded.contains("Caused by: java.io.IOException: disk gone"), encoded);
  }

  private LoggingEvent event(Level level, String logger, String message, Throwable thrown, Object... arguments) {
    Logger named = context.getLogger(logger);
    LoggingEvent event = new LoggingEvent(Logger.class.getName(), named, level, message, thrown, arguments);
    event.setThreadName("main");
    return event;
  }

  private String encoded(LoggingEvent event) {
    LogLineEncoder encoder = new LogLineEncoder();
    encoder.setContext(context);
    encoder.start();
    return new String(encoder.encode(event), StandardCharsets.UTF_8);
  }

  private String patterned(LoggingEvent event) {
    PatternLayoutEncoder encoder = new PatternLayoutEncoder();
    encoder.setContext(context);
    encoder.setPattern(PATTERN);
    encoder.setCharset(StandardCharsets.UTF_8);
    encoder.start();
    return new String(encoder.encode(event), StandardCharsets.UTF_8);
  }
}
