package io.cistern.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;
import picocli.CommandLine.Model.ArgSpec;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.OptionSpec;

/**
 * How the command line is read: help generated for every command from the definitions the parser
 * uses, mistakes as one line and exit code 2 (before any cache is opened), the configuration file
 * named anywhere, and a completion script that completes what the parser accepts.
 */
class CliUsageTest {

  @TempDir
  Path temp;

  private record Run(int exitCode, String out, String err) {}

  private static Run cistern(Map<String, String> environment, String... args) {
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    ByteArrayOutputStream err = new ByteArrayOutputStream();
    int exit = Cli.run(args, new PrintStream(out, true, StandardCharsets.UTF_8), new PrintStream(err, true, StandardCharsets.UTF_8),
        environment, Clock.systemUTC(), false);
    return new Run(exit, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8));
  }

  private static Run cistern(String... args) {
    return cistern(Map.of(), args);
  }

  /** The commands as the parser knows them; the tests below take every one from here. */
  private static CommandLine definitions() {
    OptionSpec configFile = Cli.configFileOption();
    return Cli.commandLine(new Session(System.out, System.err, Map.of(), Clock.systemUTC(), false, false, configFile::getValue),
        configFile);
  }

  /** A configuration whose cache directory is {@code cache}, which no test here creates unless it says so. */
  private Path config(String name, Path cache) throws Exception {
    Path file = temp.resolve(name);
    Files.writeString(file, "cache:\n  directory: " + cache + "\nadmin:\n  address: 127.0.0.1\n  port: 1\n");
    return file;
  }

  @Test
  void everyCommandDescribesItselfAndEveryOptionItAccepts() {
    CommandLine cistern = definitions();
    assertTrue(cistern.getSubcommands().keySet().containsAll(List.of("serve", "warm", "export", "import", "ls", "stats",
        "pin", "unpin", "purge", "verify", "generate-completion", "help")), cistern.getSubcommands().keySet().toString());
    Run overview = cistern("--help");
    assertEquals(0, overview.exitCode());
    assertTrue(overview.out().startsWith("Usage: cistern "), overview.out());
    for (CommandLine command : cistern.getSubcommands().values()) {
      CommandSpec spec = command.getCommandSpec();
      String summary = spec.usageMessage().description()[0];
      assertTrue(words(described(spec.name())).contains(words(String.join(" ", spec.usageMessage().description()))),
          spec.name() + " --help holds its whole description");
      assertTrue(words(overview.out()).contains(spec.name() + words(summary)),
          "the overview lists " + spec.name() + " with its summary");
      for (String help : List.of("--help", "-h")) {
        Run described = cistern(spec.name(), help);
        assertEquals(0, described.exitCode(), described.err());
        assertEquals("", described.err());
        assertTrue(described.out().startsWith("Usage: cistern " + spec.name()), described.out());
        for (ArgSpec arg : spec.args()) {
          String name = arg instanceof OptionSpec option ? option.longestName() : arg.paramLabel();
          assertTrue(described.out().contains(name), spec.name() + " --help names " + name + ":\n" + described.out());
          assertTrue(words(described.out()).contains(words(arg.description()[0])), spec.name() + " --help describes " + name);
        }
      }
      assertEquals(cistern(spec.name(), "--help").out(), cistern("help", spec.name()).out(), "help COMMAND, the same");
    }
    assertEquals(overview.out(), cistern("help").out());
    assertTrue(cistern("ls", "--help").out().contains("--config=FILE"), "every command takes --config");
  }

  private static String described(String command) {
    return cistern(command, "--help").out();
  }

  /** The text without its white space: help wraps long lines (after a space, or a dot) and indents what follows. */
  private static String words(String text) {
    return text.replaceAll("\\s+", "");
  }

  @Test
  void versionIsPrinted() {
    Run version = cistern("--version");
    assertEquals(0, version.exitCode());
    assertTrue(version.out().matches("cistern \\S.*\\R"), version.out());
  }

  @Test
  void usageMistakesAreOneLineNamingTheCommandAndExitTwoWithoutOpeningTheCache() throws Exception {
    Path cache = temp.resolve("cache");
    String config = config("cistern.yml", cache).toString();
    Path unreadable = temp.resolve("no-such-list.txt");
    record Mistake(List<String> args, String says) {}
    for (Mistake mistake : List.of(
        new Mistake(List.of("fetch"), "cistern: unknown command 'fetch'"),
        new Mistake(List.of("sever"), "cistern: unknown command 'sever'; did you mean serve"),
        new Mistake(List.of("--verbose"), "cistern: unknown option '--verbose'"),
        new Mistake(List.of("serve", "now"), "cistern serve: unexpected argument 'now'"),
        new Mistake(List.of("ls", "--jsn"), "cistern ls: unknown option '--jsn'; did you mean --json?"),
        new Mistake(List.of("ls", "a", "b"), "cistern ls: unexpected argument 'b'"),
        new Mistake(List.of("ls", "--limit", "0"), "cistern ls: --limit must be a positive number"),
        new Mistake(List.of("ls", "--limit", "many"), "cistern ls: invalid value for option '--limit': 'many'"),
        new Mistake(List.of("stats", "now"), "cistern stats: unexpected argument 'now'"),
        new Mistake(List.of("warm"), "cistern warm: name at least one image (or -f FILE)"),
        new Mistake(List.of("warm", "-f", unreadable.toString()), "cistern warm: cannot read " + unreadable),
        new Mistake(List.of("export", "docker.io/library/alpine"), "cistern export: missing required option: '--out=FILE'"),
        new Mistake(List.of("export", "--out", "site.tar"), "cistern export: missing required parameter: 'REF'"),
        new Mistake(List.of("import"), "cistern import: missing required parameter: 'FILE'"),
        new Mistake(List.of("import", "a.tar", "b.tar"), "cistern import: unexpected argument 'b.tar'"),
        new Mistake(List.of("pin"), "cistern pin: missing required parameter: 'REF'"),
        new Mistake(List.of("unpin", "a", "b"), "cistern unpin: unexpected argument 'b'"),
        new Mistake(List.of("purge"), "cistern purge: missing required argument"),
        new Mistake(List.of("purge", "app:1", "--older-than", "30d"), "cistern purge: REF, --older-than=AGE are mutually exclusive"),
        new Mistake(List.of("verify", "--fix"), "cistern verify: unknown option '--fix'"),
        new Mistake(List.of("ls", "--config"), "cistern ls: missing required parameter for option '--config'"),
        new Mistake(List.of("help", "fetch"), "cistern help: unknown command 'fetch'"))) {
      List<String> args = new ArrayList<>(List.of("--config", config));
      args.addAll(mistake.args());
      Run run = cistern(args.toArray(String[]::new));
      assertEquals(2, run.exitCode(), mistake + ": " + run.err());
      assertEquals(1, run.err().lines().count(), mistake + ": one line: " + run.err());
      assertTrue(run.err().contains(mistake.says()), mistake + ": " + run.err());
      assertTrue(run.err().stripTrailing().endsWith(" --help')"), "where to read more: " + run.err());
      assertEquals("", run.out(), mistake + ": nothing on standard output");
    }
    assertFalse(Files.exists(cache), "no mistake opened or created the cache");
  }

  @Test
  void theConfigurationFileIsNamedBeforeOrAfterTheCommandOrInTheEnvironment() throws Exception {
    Path before = temp.resolve("before-cache");
    Path after = temp.resolve("after-cache");
    Path variable = temp.resolve("variable-cache");
    String beforeConfig = config("before.yml", before).toString();
    String afterConfig = config("after.yml", after).toString();
    Map<String, String> environment = Map.of("CISTERN_CONFIG", config("variable.yml", variable).toString());
    // A command on a cache that does not exist names the directory its configuration gave it.
    record Case(Map<String, String> environment, List<String> args, Path cache) {}
    for (Case use : List.of(
        new Case(Map.of(), List.of("--config", beforeConfig, "stats"), before),
        new Case(Map.of(), List.of("-c", beforeConfig, "stats"), before),
        new Case(Map.of(), List.of("--config=" + beforeConfig, "stats"), before),
        new Case(Map.of(), List.of("stats", "--config", afterConfig), after),
        new Case(Map.of(), List.of("stats", "-c=" + afterConfig), after),
        new Case(environment, List.of("stats"), variable),
        new Case(environment, List.of("stats", "--config", afterConfig), after))) {
      Run run = cistern(use.environment(), use.args().toArray(String[]::new));
      assertEquals(1, run.exitCode(), use + ": " + run.err());
      assertTrue(run.err().contains("there is no cache in " + use.cache()), use + ": " + run.err());
    }
    for (List<String> twice : List.of(List.of("--config", beforeConfig, "stats", "--config", afterConfig),
        List.of("--config", beforeConfig, "--config", afterConfig, "stats"))) {
      Run run = cistern(twice.toArray(String[]::new));
      assertTrue(run.err().contains("there is no cache in " + after), "the last one named applies: " + run.err());
    }
    Run missing = cistern("--config", temp.resolve("missing.yml").toString(), "ls");
    assertEquals(2, missing.exitCode());
    assertTrue(missing.err().startsWith("cistern: ") && missing.err().contains("missing.yml"), missing.err());
  }

  @Test
  void anArgumentStartingWithAtIsAnArgumentNotAFileOfArguments() throws Exception {
    Path cache = temp.resolve("cache");
    CacheDirectory.open(CacheSettings.defaults(cache, 1L << 30), Clock.systemUTC()).close();
    Path arguments = temp.resolve("arguments");
    Files.writeString(arguments, "--json\n");
    Run listed = cistern("--config", config("cistern.yml", cache).toString(), "ls", "@" + arguments);
    assertEquals(1, listed.exitCode(), listed.err());
    assertTrue(listed.err().contains("@" + arguments + ": invalid repository name"), "the repository named: " + listed.err());
    assertEquals("", listed.out(), "not the file's --json");
  }

  @Test
  void theCompletionScriptCompletesTheCommandsAndTheirOptionsInBash() throws Exception {
    Run generated = cistern("generate-completion");
    assertEquals(0, generated.exitCode(), generated.err());
    Path script = temp.resolve("cistern-completion.bash");
    Files.writeString(script, generated.out());
    assertEquals(List.of("purge"), complete(script, "cistern", "pu"));
    assertEquals(List.of("--older-than"), complete(script, "cistern", "purge", "--ol"));
    assertEquals(List.of("--platform"), complete(script, "cistern", "warm", "--pl"));
    assertTrue(complete(script, "cistern", "ls", "--").containsAll(List.of("--json", "--limit", "--config", "--help")));
    assertTrue(complete(script, "cistern", "").containsAll(definitions().getSubcommands().keySet()), "every command");
    String partial = temp.resolve("cistern-compl").toString();
    for (List<String> fileWanted : List.of(List.of("cistern", "--config", partial), List.of("cistern", "import", partial),
        List.of("cistern", "export", "--out", partial), List.of("cistern", "warm", "-f", partial))) {
      List<String> words = new ArrayList<>(fileWanted);
      assertEquals(List.of(script.toString()), complete(script, words.toArray(String[]::new)), "a file name: " + fileWanted);
    }
  }

  /** What bash offers for the last word, with the script sourced as an operator's shell would. */
  private List<String> complete(Path script, String... words) throws Exception {
    String line = String.join(" ", words);
    String program = """
        source "$1"
        COMP_LINE="$2"; COMP_POINT=${#COMP_LINE}
        read -r -a COMP_WORDS <<< "$2"
        [[ "$2" == *" " ]] && COMP_WORDS+=("")
        COMP_CWORD=$(( ${#COMP_WORDS[@]} - 1 ))
        _complete_cistern
        printf '%s\\n' "${COMPREPLY[@]}"
        """;
    // Outside a real prompt bash's compopt complains on standard error; the offers are on standard output.
    Process bash = new ProcessBuilder("bash", "-c", program, "complete", script.toString(), line)
        .redirectError(ProcessBuilder.Redirect.DISCARD).start();
    String output = new String(bash.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(bash.waitFor(30, TimeUnit.SECONDS));
    assertEquals(0, bash.exitValue(), output);
    return output.lines().map(String::strip).filter(word -> !word.isEmpty()).sorted().toList();
  }

  @Test
  void theReadmeShowsTheOverviewTheCommandPrints() throws Exception {
    Path root = Path.of("").toAbsolutePath();
    while (!Files.exists(root.resolve("README.md"))) {
      root = root.getParent();
    }
    String readme = Files.readString(root.resolve("README.md"));
    String overview = cistern("--help").out();
    assertTrue(readme.contains("```text\n$ cistern --help\n" + overview + "```\n"),
        "README.md's Commands section holds the output of `cistern --help` as it is now:\n" + overview);
  }
}
