package io.cistern.admin;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import org.slf4j.ILoggerFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Applies the configured log levels to Logback. Levels belong to the process, not to one Cistern,
 * so the CLI applies them once, when it serves ({@code cistern serve}; operators' commands log
 * only warnings); {@link LogbackSetup} reads the same environment variables, so the
 * levels hold from the first line, before the configuration is loaded.
 */
public final class LogLevels {

  private LogLevels() {}

  /**
   * @param level the level of every logger but the access log
   * @param accessLevel the level of {@link AccessLog#LOGGER}
   * @throws IllegalArgumentException for a level Logback does not know
   */
  public static void apply(String level, String accessLevel) {
    Level root = parse("log.level", level);
    Level access = parse("log.access.level", accessLevel);
    ILoggerFactory factory = LoggerFactory.getILoggerFactory();
    if (factory instanceof LoggerContext context) {
      context.getLogger(Logger.ROOT_LOGGER_NAME).setLevel(root);
      context.getLogger(AccessLog.LOGGER).setLevel(access);
    }
  }

  private static Level parse(String key, String text) {
    Level level = text == null ? null : Level.toLevel(text.trim(), null);
    if (level == null) {
      throw new IllegalArgumentException(key + " must be a log level (TRACE, DEBUG, INFO, WARN, ERROR, OFF), not '" + text + "'");
    }
    return level;
  }
}
