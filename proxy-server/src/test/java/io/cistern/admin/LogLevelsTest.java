package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;

class LogLevelsTest {

  private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
  private final Logger access = (Logger) LoggerFactory.getLogger(AccessLog.LOGGER);
  private final Level rootBefore = root.getLevel();
  private final Level accessBefore = access.getLevel();

  @AfterEach
  void restore() {
    root.setLevel(rootBefore);
    access.setLevel(accessBefore);
  }

  @Test
  void theConfiguredLevelsReachLogback() {
    LogLevels.apply("warn", "OFF");
    assertEquals(Level.WARN, root.getLevel());
    assertEquals(Level.OFF, access.getLevel());
  }

  @Test
  void anUnknownLevelNamesItsKey() {
    IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> LogLevels.apply("INFO", "LOUD"));
    assertTrue(error.getMessage().startsWith("log.access.level"), error.getMessage());
  }
}
