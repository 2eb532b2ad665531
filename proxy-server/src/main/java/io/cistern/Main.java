package io.cistern;

import ch.qos.logback.classic.LoggerContext;
import io.cistern.admin.LogLevels;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import io.cistern.config.ConfigLoader;
import java.io.PrintStream;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.CountDownLatch;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/** The {@code cistern} command. */
public final class Main {

  private static final String USAGE = """
      Usage: cistern [serve] [--config FILE]

      Runs the Cistern pull-through registry cache. Without --config (or CISTERN_CONFIG) it runs
      on its embedded defaults: port 5000, cache in ./cistern-data, Docker Hub upstream.
      CISTERN_* environment variables override any key (CISTERN_SERVER_PORT=5001).
      """;

  private Main() {}

  /**
   * The JDK HTTP client reads upstream bodies in buffers of this many bytes (its default, 16 KiB,
   * costs one file write per 16 KiB of every blob downloaded: measured 3x slower on 200 MiB).
   * A JVM-wide setting, so it is made here, at the process entry, before any client exists.
   */
  private static final String UPSTREAM_READ_BUFFER = "262144";

  public static void main(String[] args) {
    if (System.getProperty("jdk.httpclient.bufsize") == null) {
      System.setProperty("jdk.httpclient.bufsize", UPSTREAM_READ_BUFFER);
    }
    System.exit(run(args, System.out, System.err));
  }

  static int run(String[] args, PrintStream out, PrintStream err) {
    Path configFile = System.getenv(ConfigLoader.CONFIG_PATH_VARIABLE) != null
        ? Path.of(System.getenv(ConfigLoader.CONFIG_PATH_VARIABLE))
        : null;
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "serve" -> { }
        case "--config", "-c" -> {
          if (i + 1 == args.length) {
            err.println("--config needs a file");
            return 2;
          }
          configFile = Path.of(args[++i]);
        }
        case "--help", "-h", "help" -> {
          out.print(USAGE);
          return 0;
        }
        default -> {
          err.println("unknown argument: " + args[i]);
          err.print(USAGE);
          return 2;
        }
      }
    }
    CisternConfig config;
    try {
      config = new ConfigLoader().load(configFile, System.getenv());
      LogLevels.apply(config.log().level(), config.log().access().level());
    } catch (ConfigException | IllegalArgumentException e) {
      err.println("cistern: " + e.getMessage());
      return 2;
    }
    return serve(config);
  }

  private static int serve(CisternConfig config) {
    Logger log = LoggerFactory.getLogger(Main.class);
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
