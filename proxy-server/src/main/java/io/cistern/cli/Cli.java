package io.cistern.cli;

import io.cistern.config.ConfigLoader;
import java.io.PrintStream;
import java.io.PrintWriter;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Help;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.UsageMessageSpec;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.ScopeType;
import picocli.CommandLine.UnmatchedArgumentException;

/**
 * The {@code cistern} command: {@code serve} (the default) and the operators' commands, one class
 * each. picocli parses the command line by their definitions and writes every {@code --help}
 * and the completion script from the same definitions, so the help cannot drift from the parser.
 */
public final class Cli {

  private Cli() {}

  /** The process entry point: as {@link #run}, with the process's streams, environment and clock. */
  public static int main(String[] args) {
    return run(args, System.out, System.err, System.getenv(), Clock.systemUTC(), System.console() != null, true);
  }

  /**
   * Runs one command.
   *
   * @param environment where the configuration's overrides, passwords and proxies are looked up
   * @param terminal whether {@code out} is a terminal (progress is redrawn in place)
   * @return the exit code: 0 done, 1 the operation failed (or verify found damage), 2 a usage or
   *     configuration error
   */
  public static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> environment, Clock clock,
      boolean terminal) {
    return run(args, out, err, environment, clock, terminal, false);
  }

  /**
   * @param ownsLogging whether this is the process's one command, so it may set up logging: an
   *     operator's command logs only warnings, and to standard error
   */
  private static int run(String[] args, PrintStream out, PrintStream err, Map<String, String> environment, Clock clock,
      boolean terminal, boolean ownsLogging) {
    OptionSpec configFile = configFileOption();
    Session session = new Session(out, err, environment, clock, terminal, ownsLogging, configFile::getValue);
    return commandLine(session, configFile).execute(args);
  }

  /** The {@code --config} (or {@code -c}) every command takes, before or after its name. */
  static OptionSpec configFileOption() {
    return OptionSpec.builder("-c", "--config").type(Path.class).paramLabel("FILE")
        .scopeType(ScopeType.INHERIT)
        .description("the configuration file (default: $" + ConfigLoader.CONFIG_PATH_VARIABLE
            + ", else the embedded defaults)")
        .build();
  }

  /**
   * The command tree of one run, its output and its error handling.
   *
   * @param configFile the option whose value {@code session} reads as its configuration file
   */
  static CommandLine commandLine(Session session, OptionSpec configFile) {
    ServeCommand serve = new ServeCommand(session);
    CommandSpec serveSpec = CommandSpec.wrapWithoutInspection(serve).name("serve");
    serveSpec.usageMessage().description(
        "Runs the registry cache (the default command).",
        "Serves until SIGTERM or SIGINT, then stops gracefully.");
    CommandSpec cistern = CommandSpec.wrapWithoutInspection((Callable<Integer>) serve::call)
        .name("cistern")
        .version("cistern " + version())
        .addOption(configFile)
        .addOption(OptionSpec.builder("-h", "--help").usageHelp(true).scopeType(ScopeType.INHERIT)
            .description("shows this help and exits").build())
        .addOption(OptionSpec.builder("-V", "--version").versionHelp(true)
            .description("shows the version and exits").build());
    cistern.usageMessage()
        .description("Cistern, a caching OCI pull-through registry. Without a command, it serves.")
        .footer(
            "REF names an image as clients pull it through Cistern:",
            "  [upstream/]repository[:tag|@digest]   e.g. ghcr.io/org/app:1.0",
            "without an upstream, the default one; without a tag, latest.",
            "",
            "Without --config (or " + ConfigLoader.CONFIG_PATH_VARIABLE + ") Cistern uses its embedded defaults: port"
                + " 5000, cache in ./cistern-data, Docker Hub upstream. CISTERN_* environment variables override any"
                + " key (CISTERN_SERVER_PORT=5001). Commands other than serve work on the cache directory while no"
                + " server runs, and through the server's admin API (admin.address, admin.port, and admin.token when"
                + " the server has one) while one does. `cistern COMMAND --help` describes a command.");
    CommandLine commandLine = new CommandLine(cistern);
    for (CommandSpec command : List.of(serveSpec, new WarmCommand(session).spec(), new ExportCommand(session).spec(),
        new ImportCommand(session).spec(), new ListCommand(session).spec(), new StatsCommand(session).spec(),
        PinCommand.pin(session).spec(), PinCommand.unpin(session).spec(), new PurgeCommand(session).spec(),
        new VerifyCommand(session).spec(), new CompletionCommand(session).spec(), new HelpCommand().spec())) {
      commandLine.addSubcommand(command.name(), new CommandLine(command));
    }
    layOut(commandLine);
    return commandLine
        // An argument starting with @ is an image or a file name here, never a file of arguments.
        .setExpandAtFiles(false)
        // --config named twice (before and after the command, or in a wrapper script and by hand): the last applies.
        .setOverwrittenOptionsAllowed(true)
        .setOut(new PrintWriter(session.out(), true))
        .setErr(new PrintWriter(session.err(), true))
        .setColorScheme(Help.defaultColorScheme(session.terminal() ? Help.Ansi.AUTO : Help.Ansi.OFF))
        .setParameterExceptionHandler((mistake, args) -> usageError(session, mistake))
        .setExecutionExceptionHandler((failure, command, parsed) -> {
          // Commands report what they foresee themselves; anything else is still one line, not a trace.
          session.err().println(command.getCommandSpec().qualifiedName() + ": "
              + (failure.getMessage() != null ? failure.getMessage() : failure.toString()));
          return 1;
        });
  }

  /** Every help in the same shape: options in the order declared, each section headed. */
  private static void layOut(CommandLine command) {
    UsageMessageSpec usage = command.getCommandSpec().usageMessage();
    usage.sortOptions(false).sortSynopsis(false)
        .parameterListHeading("%nParameters:%n")
        .optionListHeading("%nOptions:%n")
        .commandListHeading("%nCommands:%n")
        .footerHeading("%n");
    command.getSubcommands().values().forEach(Cli::layOut);
  }

  /**
   * One line naming the mistake and where to read more (the whole help would bury the line):
   * {@code cistern ls: unknown option '--jsn'; did you mean --json? (see 'cistern ls --help')}.
   */
  private static int usageError(Session session, ParameterException mistake) {
    String command = mistake.getCommandLine().getCommandSpec().qualifiedName();
    session.err().println(command + ": " + describe(mistake) + " (see '" + command + " --help')");
    return 2;
  }

  static String describe(ParameterException mistake) {
    if (mistake instanceof UnmatchedArgumentException unmatched && !unmatched.getUnmatched().isEmpty()) {
      String argument = unmatched.getUnmatched().get(0);
      String kind = argument.startsWith("-") ? "unknown option"
          : mistake.getCommandLine().getSubcommands().isEmpty() ? "unexpected argument"
          : "unknown command";
      List<String> suggestions = unmatched.getSuggestions();
      return kind + " '" + argument + "'"
          + (suggestions.isEmpty() ? "" : "; did you mean " + String.join(", ", suggestions) + "?");
    }
    // picocli's own messages start with a capital (not to be lowered in a name: REF), some with "Error: ".
    String message = mistake.getMessage().replaceFirst("^Error: ", "");
    boolean capitalised = message.length() > 1 && Character.isUpperCase(message.charAt(0))
        && Character.isLowerCase(message.charAt(1));
    return capitalised ? Character.toLowerCase(message.charAt(0)) + message.substring(1) : message;
  }

  /** The version the jar was built as; none when run from classes (tests, an IDE). */
  private static String version() {
    String version = Cli.class.getPackage().getImplementationVersion();
    return version != null ? version : "(development build)";
  }
}
