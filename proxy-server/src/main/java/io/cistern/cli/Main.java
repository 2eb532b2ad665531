package io.cistern.cli;

import java.time.Clock;
import java.util.Optional;

/** The {@code cistern} command; its subcommands are in {@link Cli}. */
public final class Main {

  private Main() {}

  /**
   * The JDK HTTP client reads upstream bodies in buffers of this many bytes (its default, 16 KiB,
   * costs one file write per 16 KiB of every blob downloaded: measured 3x slower on 200 MiB).
   */
  private static final String UPSTREAM_READ_BUFFER = "262144";

  public static void main(String[] args) {
    setDefaults();
    Optional<ServeArguments> serve = ServeArguments.of(args);
    System.exit(serve.isPresent() ? serve(serve.get()) : Cli.main(args));
  }

  /** A plain server's command line runs the server without picocli (see {@link ServeArguments}). */
  private static int serve(ServeArguments arguments) {
    Session session = new Session(System.out, System.err, System.getenv(), Clock.systemUTC(), System.console() != null,
        true, arguments::configFile);
    try {
      return new ServeCommand(session).call();
    } catch (RuntimeException e) {
      // What picocli's handler does for Cli: one line, not a trace.
      System.err.println("cistern: " + (e.getMessage() != null ? e.getMessage() : e.toString()));
      return 1;
    }
  }

  /** JVM-wide settings, made here, at the process entry, before anything reads them; a -D flag wins. */
  static void setDefaults() {
    defaultProperty("jdk.httpclient.bufsize", UPSTREAM_READ_BUFFER);
    // Netty's allocator reports to Java Flight Recorder when JFR is present: loading JFR's event
    // classes costs a start 150 classes and 2 MiB for events nobody records. A recording
    // that wants them sets -Dio.netty.jfr.enabled=true.
    defaultProperty("io.netty.jfr.enabled", "false");
  }

  private static void defaultProperty(String name, String value) {
    if (System.getProperty(name) == null) {
      System.setProperty(name, value);
    }
  }
}
