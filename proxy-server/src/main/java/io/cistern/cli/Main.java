package io.cistern.cli;

/** The {@code cistern} command; its subcommands are in {@link Cli}. */
public final class Main {

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
    System.exit(Cli.main(args));
  }
}
