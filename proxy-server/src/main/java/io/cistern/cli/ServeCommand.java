package io.cistern.cli;

import io.cistern.Cistern;
import io.cistern.Settings;
import io.cistern.admin.LogLevels;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import java.io.IOException;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code cistern serve}, the default command: runs until SIGTERM or SIGINT, then stops gracefully.
 * No picocli here: a plain server's command line ({@link ServeArguments}) runs this without
 * building picocli's model; {@link Cli} declares the command's definition for picocli.
 */
final class ServeCommand implements Callable<Integer> {

  private final Session session;

  ServeCommand(Session session) {
    this.session = session;
  }

  /** @return the exit code: 0 stopped, 1 failed, 2 a configuration error (one line, no trace) */
  @Override
  public Integer call() {
    Settings settings;
    try {
      settings = session.settings();
      CisternConfig.Log logging = settings.config().log();
      LogLevels.apply(logging.level(), logging.access().level());
    } catch (ConfigException | IllegalArgumentException e) {
      session.err().println("cistern: " + e.getMessage());
      return 2;
    }
    Logger log = LoggerFactory.getLogger(ServeCommand.class);
    try {
      Cistern cistern = Cistern.start(settings, session.clock(), session.environment());
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        log.info("stopping");
        cistern.close();
        log.info("stopped");
        stopped.countDown();
      }, "cistern-shutdown"));
      stopped.await();
      return 0;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return 1;
    } catch (ConfigException e) {
      log.error("cistern: {}", e.getMessage());
      return 2;
    } catch (Exception e) {
      // Netty throws its bind failures (IOExceptions) undeclared: a port in use is the operator's
      // to fix, not a bug to trace.
      if (e instanceof IOException) {
        log.error("cistern: cannot listen: {} (server.address, server.port, admin.address, admin.port)", e.getMessage());
      } else {
        log.error("cistern failed to start: {}", e.getMessage(), e);
      }
      return 1;
    }
  }
}
