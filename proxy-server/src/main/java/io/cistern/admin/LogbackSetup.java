package io.cistern.admin;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import ch.qos.logback.classic.spi.ConfiguratorRank;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.ConsoleAppender;
import ch.qos.logback.core.spi.ContextAwareBase;
import java.util.Map;

/**
 * Cistern's logging, set up in code: one console appender writing {@link LogLineEncoder}'s lines,
 * the levels from {@code CISTERN_LOG_LEVEL} and {@code CISTERN_LOG_ACCESS_LEVEL} (so they hold
 * from the first line, before the configuration is read; {@link LogLevels} applies the configured
 * ones once it is). In code rather than a
 * {@code logback.xml} because reading XML costs a start about 600 classes (Logback's Joran and
 * the JDK's XML parser) and a tenth of a second. {@code -Dlogback.configurationFile=FILE} still
 * replaces it with a file. Found by Logback through {@code META-INF/services}.
 */
@ConfiguratorRank(ConfiguratorRank.CUSTOM_HIGH_PRIORITY)
public final class LogbackSetup extends ContextAwareBase implements Configurator {

  private final Map<String, String> environment;

  public LogbackSetup() {
    this(System.getenv());
  }

  LogbackSetup(Map<String, String> environment) {
    this.environment = environment;
  }

  @Override
  public ExecutionStatus configure(LoggerContext context) {
    if (System.getProperty("logback.configurationFile") != null) {
      return ExecutionStatus.INVOKE_NEXT_IF_ANY;
    }
    LogLineEncoder encoder = new LogLineEncoder();
    encoder.setContext(context);
    encoder.start();
    ConsoleAppender<ILoggingEvent> console = new ConsoleAppender<>();
    console.setContext(context);
    console.setName("console");
    console.setEncoder(encoder);
    console.start();
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    root.setLevel(level("CISTERN_LOG_LEVEL"));
    root.addAppender(console);
    context.getLogger("com.zaxxer.hikari").setLevel(Level.WARN);
    // Caffeine warns with a stack trace for every failed async load; for Cistern those are
    // upstream answers (a 404, a refused token) that already reach the client as OCI errors.
    context.getLogger("com.github.benmanes.caffeine").setLevel(Level.ERROR);
    // The access log writes its own lines (AccessLog); the logger's level is its switch.
    Logger access = context.getLogger(AccessLog.LOGGER);
    access.setLevel(level("CISTERN_LOG_ACCESS_LEVEL"));
    access.setAdditive(false);
    return ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY;
  }

  /** The level a variable names, INFO when unset; a wrong name is reported once the configuration is read. */
  private Level level(String variable) {
    return Level.toLevel(environment.get(variable), Level.INFO);
  }
}
