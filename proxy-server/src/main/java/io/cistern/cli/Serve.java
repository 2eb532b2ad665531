package io.cistern.cli;

import ch.qos.logback.classic.LoggerContext;
import io.cistern.Cistern;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import java.time.Clock;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** {@code cistern serve}: runs until SIGTERM or SIGINT, then stops gracefully. */
final class Serve {

  private Serve() {}

  static int run(CisternConfig config) {
    Logger log = LoggerFactory.getLogger(Serve.class);
    try {
      Cistern cistern = Cistern.start(config, Clock.systemUTC(), System.getenv());
      CountDownLatch stopped = new CountDownLatch(1);
      Runtime.getRuntime().addShutdownHook(new Thread(() -> {
        log.info("stopping");
        cistern.close();
        log.info("stopped");
        // The access log is written asynchronously: stopping Logback flushes its queue.
        if (LoggerFactory.getILoggerFactory() instanceof LoggerContext context) {
          context.stop();
        }
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
    } catch (RuntimeException e) {
      log.error("cistern failed to start: {}", e.getMessage(), e);
      return 1;
    }
  }
}
