package io.cistern;

import io.cistern.cli.Cli;

/** The {@code cistern} command; its subcommands are in {@link Cli}. */
public final class Main {

  private Main() {}

  public static void main(String[] args) {
    System.exit(Cli.main(args));
  }
}
