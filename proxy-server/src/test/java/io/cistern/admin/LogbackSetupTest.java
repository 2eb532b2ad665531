package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.Configurator;
import java.util.Map;
import org.junit.jupiter.api.Test;

class LogbackSetupTest {

  @Test
  void theLevelsComeFromTheEnvironmentAndEveryLineGoesToTheConsole() {
    LoggerContext context = new LoggerContext();
    LogbackSetup setup = new LogbackSetup(Map.of("CISTERN_LOG_LEVEL", "debug", "CISTERN_LOG_ACCESS_LEVEL", "OFF"));
    setup.setContext(context);
    assertEquals(Configurator.ExecutionStatus.DO_NOT_INVOKE_NEXT_IF_ANY, setup.configure(context));
    Logger root = context.getLogger(Logger.ROOT_LOGGER_NAME);
    assertEquals(Level.DEBUG, root.getLevel());
    assertNotNull(root.getAppender("console"));
    assertEquals(Level.OFF, context.getLogger(AccessLog.LOGGER).getLevel());
    assertFalse(context.getLogger(AccessLog.LOGGER).isAdditive(), "access lines are the access log's own");
    assertEquals(Level.WARN, context.getLogger("com.zaxxer.hikari").getLevel());
  }

  @Test
  void withoutVariablesBothLevelsAreInfo() {
    LoggerContext context = new LoggerContext();
    LogbackSetup setup = new LogbackSetup(Map.of());
    setup.setContext(context);
    setup.configure(context);
    assertEquals(Level.INFO, context.getLogger(Logger.ROOT_LOGGER_NAME).getLevel());
    assertEquals(Level.INFO, context.getLogger(AccessLog.LOGGER).getLevel());
  }
}
