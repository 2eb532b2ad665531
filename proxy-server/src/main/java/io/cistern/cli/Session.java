package io.cistern.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import io.cistern.Settings;
import io.cistern.config.ConfigException;
import io.cistern.config.ConfigLoader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import java.util.function.Supplier;
import org.slf4j.LoggerFactory;

/**
 * One run of the {@code cistern} command: where it writes, the environment and clock it runs
 * with, and the configuration file its command line names.
 *
 * @param environment where the configuration's overrides, passwords and proxies are looked up
 * @param terminal whether {@code out} is a terminal (progress is redrawn in place)
 * @param ownsLogging whether this run is the process's one command, so it may set up logging
 * @param configFile the {@code --config} the command line named, or null: read once the command
 *     line is parsed (picocli sets it while it parses)
 */
record Session(PrintStream out, PrintStream err, Map<String, String> environment, Clock clock, boolean terminal,
    boolean ownsLogging, Supplier<Path> configFile) {

  /**
   * The configuration: the embedded defaults, overlaid by {@code --config} (else
   * {@code CISTERN_CONFIG}), overlaid by {@code CISTERN_*} variables, checked as a whole.
   *
   * @throws ConfigException or {@link IllegalArgumentException} for a mistake, in one line
   */
  Settings settings() {
    Path file = configFile.get();
    String variable = environment.get(ConfigLoader.CONFIG_PATH_VARIABLE);
    if (file == null && variable != null) {
      file = Path.of(variable);
    }
    return Settings.of(new ConfigLoader().load(file, environment));
  }

  /**
   * Operators' commands print their own output; the components they run (the cache, its
   * recovery) log only warnings, and to standard error, so that output can be piped. The server
   * keeps the configured levels and its console.
   */
  void logOnlyWarningsToStandardError() {
    if (!ownsLogging || !(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return;
    }
    ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.WARN);
    Appender<ILoggingEvent> console = root.getAppender("console");
    if (console instanceof ConsoleAppender<ILoggingEvent> appender) {
      appender.stop();
      appender.setTarget("System.err");
      appender.start();
    }
  }
}
