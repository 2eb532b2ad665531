package io.cistern.cli;

import io.cistern.Cistern;
import io.cistern.Settings;
import io.cistern.config.ConfigException;
import java.io.IOException;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code cistern serve}: runs until SIGTERM or SIGINT, then stops gracefully. */
final class Serve {

  private Serve() {}

  /**
   * @param environment where upstream passwords and the outbound proxy are looked up
   * @return the exit code: 0 stopped, 1 failed, 2 a configuration error (one line, no trace)
   */
  static int run(Settings settings, Clock clock, Map<String, String> environment) {
    Logger log = LoggerFactory.getLogger(Serve.class);
    try {
      Cistern cistern = Cistern.start(settings, clock, environment);
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
