package io.cistern.cli;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.Appender;
import ch.qos.logback.core.ConsoleAppender;
import io.cistern.Cistern;
import io.cistern.Settings;
import io.cistern.admin.LogLevels;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.RepositoryUsage;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import io.cistern.config.ConfigLoader;
import io.cistern.oci.Json;
import io.cistern.ops.BlobProblem;
import io.cistern.ops.DownloadView;
import io.cistern.ops.ImageView;
import io.cistern.ops.JobView;
import io.cistern.ops.OperationException;
import io.cistern.ops.Outcome;
import io.cistern.ops.PinView;
import io.cistern.ops.PurgeView;
import io.cistern.ops.StatsView;
import io.cistern.ops.TrafficView;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import org.slf4j.LoggerFactory;

/**
 * The {@code cistern} command: {@code serve} (the default) and the operators' commands. Those
 * open the cache directory themselves when no server runs, and otherwise (the directory is
 * locked) go through the running server's admin API, so one process is ever the writer.
 */
public final class Cli {

  static final String USAGE = """
      Usage: cistern [--config FILE] [COMMAND] [ARGS]

      Cistern, a caching OCI pull-through registry.

      Commands:
        serve                          run the registry cache (the default)
        warm REF... | -f FILE          pull images into the cache through the upstreams
        export --out FILE REF...       write cached images into a bundle (an OCI layout in a tar)
        import FILE                    load a bundle into the cache
        ls [REPOSITORY]                list cached images with sizes and last access
        stats                          size against the cap, hit ratio, pins, top repositories
        pin REF | unpin REF            keep an image from eviction, or let it go again
        purge REF | --older-than AGE   remove images now
        verify [--repair]              re-hash what is cached; --repair sets damaged files aside

      REF names an image as clients pull it through Cistern: [upstream/]repository[:tag|@digest],
      e.g. ghcr.io/org/app:1.0; without an upstream, the default one; without a tag, latest.

      Without --config (or CISTERN_CONFIG) Cistern uses its embedded defaults: port 5000, cache in
      ./cistern-data, Docker Hub upstream. CISTERN_* environment variables override any key
      (CISTERN_SERVER_PORT=5001). Commands other than serve work on the cache directory while no
      server runs, and through the server's admin API (admin.address, admin.port, and admin.token
      when the server has one) while one does. `cistern COMMAND --help` describes a command.
      """;

  private static final Map<String, String> HELP = Map.of(
      "serve", """
          Usage: cistern serve [--config FILE]

          Runs the registry cache until SIGTERM or SIGINT, then stops gracefully.
          """,
      "warm", """
          Usage: cistern warm REF... [-f FILE] [--platform OS/ARCH[,OS/ARCH...]]

          Pulls images into the cache through the configured upstreams, as a client pull would.
          For an index, all its platforms, or only those named with --platform (linux/amd64,
          linux/arm64/v8). -f reads references from FILE, one a line (# starts a comment).
          Shows bytes, blobs done and the rate: one redrawn line on a terminal, plain lines else.
          """,
      "export", """
          Usage: cistern export --out FILE REF...

          Writes cached images into a bundle FILE (which must not exist): a tar holding an OCI
          image layout and cistern-bundle.json, the tags with their upstream hosts. Nothing is
          fetched: the images must be cached (see warm); platforms of an index that are not
          fully cached are left out, with a warning. While a server runs, FILE must be in its
          admin.bundleDirectory (by default the cache directory's bundles/).
          """,
      "import", """
          Usage: cistern import FILE [--pin]

          Loads a bundle into the cache. Every blob's digest and size is verified and published
          atomically; blobs already cached are skipped, so an interrupted import is carried on by
          running it again. Manifests and tags are added only once everything they refer to is in.
          --pin pins the imported images. While a server runs, FILE must be in its
          admin.bundleDirectory (by default the cache directory's bundles/).
          """,
      "ls", """
          Usage: cistern ls [REPOSITORY] [--limit N] [--json]

          Lists cached images (tags, and manifests pulled by digest) with their digest, stored
          size, last access and pin; only REPOSITORY's ([upstream/]repository) when given.
          """,
      "stats", """
          Usage: cistern stats [--json]

          The cache's size against its cap, entries, pins, evictions, the hit ratio and bytes
          saved upstream (while a server runs), downloads under way, and the top repositories.
          """,
      "pin", """
          Usage: cistern pin REF

          Pins a cached image: its manifest and everything it refers to (all platforms of an
          index, and any pulled later) are never evicted.
          """,
      "unpin", """
          Usage: cistern unpin REF

          Unpins an image; what another pinned image shares stays pinned.
          """,
      "purge", """
          Usage: cistern purge REF | --older-than AGE

          Removes an image now: by tag, the tag and (unless another tag or repository still
          refers to it) the image; by digest, the image and its tags. Content other images share
          stays; pinned images are refused. --older-than 30d removes every unpinned blob and
          manifest not read for that long (s, m, h, d).
          """,
      "verify", """
          Usage: cistern verify [--repair]

          Reads back every cached blob and manifest and checks its size and digest against what
          was verified when it was stored; reports each one that is damaged (wrong size, wrong
          digest, a row without its file, unreadable). --repair moves each damaged file to
          <cache.directory>/quarantine/ and drops its row, so that the next pull fetches it again;
          Cistern never deletes a quarantined file. A blob of a pinned image, or one no online
          upstream can give again, was the only copy: it is named, to be restored from a bundle.
          Exits 1 when anything was found damaged, repaired or not. Pulls go on meanwhile.
          """);

  private static final int LS_LIMIT = 100_000;

  private final PrintStream out;
  private final PrintStream err;
  private final Map<String, String> environment;
  private final Clock clock;
  private final boolean terminal;

  private Cli(PrintStream out, PrintStream err, Map<String, String> environment, Clock clock, boolean terminal) {
    this.out = out;
    this.err = err;
    this.environment = environment;
    this.clock = clock;
    this.terminal = terminal;
  }

  /** The process entry point: as {@link #run}, with the process's streams, environment and clock. */
  public static int main(String[] args) {
    return run(args, System.out, System.err, System.getenv(), Clock.systemUTC(), System.console() != null, true);
  }

  /**
   * Runs one command.
   *
   * @param environment where the configuration's overrides, passwords and proxies are looked up
   * @param terminal whether {@code out} is a terminal (progress is redrawn in place)
   * @return the exit code: 0 done, 1 the operation failed, 2 a usage or configuration error
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
    Invocation invocation;
    try {
      invocation = Invocation.parse(Arrays.asList(args), environment);
    } catch (Arguments.UsageException e) {
      err.println("cistern: " + e.getMessage());
      err.print(USAGE);
      return 2;
    }
    if (ownsLogging && !invocation.command().equals("serve")) {
      logWarningsToStandardError();
    }
    return new Cli(out, err, environment, clock, terminal).run(invocation);
  }

  /**
   * The command line split into the config file, the command and its own arguments.
   *
   * @param named whether the command was named (a bare {@code --help} asks for the overview)
   */
  record Invocation(Path configFile, String command, boolean named, List<String> arguments, boolean help) {

    static Invocation parse(List<String> args, Map<String, String> environment) {
      String configVariable = environment.get(ConfigLoader.CONFIG_PATH_VARIABLE);
      Path configFile = configVariable != null ? Path.of(configVariable) : null;
      String command = null;
      boolean help = false;
      List<String> rest = new ArrayList<>();
      for (int i = 0; i < args.size(); i++) {
        String arg = args.get(i);
        if (arg.equals("--config") || arg.equals("-c")) {
          if (i + 1 == args.size()) {
            throw new Arguments.UsageException("--config needs a file");
          }
          configFile = Path.of(args.get(++i));
        } else if (arg.startsWith("--config=")) {
          configFile = Path.of(arg.substring("--config=".length()));
        } else if (arg.equals("--help") || arg.equals("-h") || command == null && arg.equals("help")) {
          help = true;
        } else if (command == null && !arg.startsWith("-")) {
          if (!HELP.containsKey(arg)) {
            throw new Arguments.UsageException("unknown command: " + arg);
          }
          command = arg;
        } else if (command == null) {
          throw new Arguments.UsageException("unknown argument: " + arg);
        } else {
          rest.add(arg);
        }
      }
      return new Invocation(configFile, command == null ? "serve" : command, command != null, rest, help);
    }
  }

  private int run(Invocation invocation) {
    if (invocation.help()) {
      out.print(invocation.named() ? HELP.get(invocation.command()) : USAGE);
      return 0;
    }
    Settings settings;
    try {
      settings = Settings.of(new ConfigLoader().load(invocation.configFile(), environment));
    } catch (ConfigException | IllegalArgumentException e) {
      err.println("cistern: " + e.getMessage());
      return 2;
    }
    if (invocation.command().equals("serve")) {
      if (!invocation.arguments().isEmpty()) {
        return usage("serve", "unknown argument: " + invocation.arguments().get(0));
      }
      CisternConfig.Log logging = settings.config().log();
      try {
        LogLevels.apply(logging.level(), logging.access().level());
      } catch (IllegalArgumentException e) {
        err.println("cistern: " + e.getMessage());
        return 2;
      }
      return Serve.run(settings, clock, environment);
    }
    try {
      return operate(invocation, settings);
    } catch (Arguments.UsageException e) {
      return usage(invocation.command(), e.getMessage());
    }
  }

  private int usage(String command, String message) {
    err.println("cistern " + command + ": " + message);
    err.print(HELP.get(command));
    return 2;
  }

  /** Parses the command's arguments first, so a usage error never opens (or locks) the cache. */
  private int operate(Invocation invocation, Settings settings) {
    CisternConfig config = settings.config();
    String command = invocation.command();
    List<String> args = invocation.arguments();
    Command work = switch (command) {
      case "warm" -> warm(Arguments.parse(args, Map.of("-f", "-f", "--file", "-f", "--platform", "--platform"), Set.of()));
      case "export" -> export(Arguments.parse(args, Map.of("--out", "--out", "-o", "--out"), Set.of()));
      case "import" -> importBundle(Arguments.parse(args, Map.of(), Set.of("--pin")));
      case "ls" -> list(Arguments.parse(args, Map.of("--limit", "--limit"), Set.of("--json")));
      case "stats" -> stats(Arguments.parse(args, Map.of(), Set.of("--json")));
      case "pin", "unpin" -> pin(command, Arguments.parse(args, Map.of(), Set.of()));
      case "purge" -> purge(Arguments.parse(args, Map.of("--older-than", "--older-than"), Set.of()));
      case "verify" -> verify(Arguments.parse(args, Map.of(), Set.of("--repair")));
      default -> throw new IllegalStateException("no such command " + command);
    };
    // Only warm and import may create a cache; elsewhere a missing one is a wrong --config.
    if (!command.equals("warm") && !command.equals("import") && !CacheDirectory.existsIn(config.cache().directory())) {
      err.println("cistern " + command + ": there is no cache in " + config.cache().directory().toAbsolutePath()
          + " (cache.directory); is the configuration the server's?");
      return 1;
    }
    try (CacheClient client = connect(settings)) {
      return work.run(client);
    } catch (OperationException e) {
      err.println("cistern " + command + ": " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      err.println("cistern " + command + ": interrupted");
      return 1;
    } catch (IOException | RuntimeException e) {
      // A failure the operation did not foresee (a database or disk error): its message, not a trace.
      err.println("cistern " + command + ": " + (e.getMessage() != null ? e.getMessage() : e.toString()));
      return 1;
    }
  }

  /** The cache directory itself when no server has it open; the server's admin API when one does. */
  private CacheClient connect(Settings settings) {
    CisternConfig config = settings.config();
    try {
      return new LocalClient(Cistern.openTools(settings, clock, environment), config.cache().directory());
    } catch (CacheDirectory.CacheInUseException running) {
      return new AdminClient(AdminClient.baseFor(config.admin().address(), config.admin().port()), config.admin().token(),
          config.admin().effectiveBundleDirectory(config.cache().directory()));
    }
  }

  @FunctionalInterface
  private interface Command {
    int run(CacheClient client) throws InterruptedException, IOException;
  }

  // ---- commands ----

  private Command warm(Arguments args) {
    List<String> images = new ArrayList<>(args.positional());
    for (String file : args.values("-f")) {
      images.addAll(readImageList(Path.of(file)));
    }
    if (images.isEmpty()) {
      throw new Arguments.UsageException("name at least one image (or -f FILE)");
    }
    List<String> platforms = new ArrayList<>();
    for (String list : args.values("--platform")) {
      Arrays.stream(list.split(",")).map(String::trim).filter(text -> !text.isEmpty()).forEach(platforms::add);
    }
    return client -> followJob(client, client.warm(images, platforms));
  }

  private static List<String> readImageList(Path file) {
    try {
      return Files.readAllLines(file).stream()
          .map(line -> line.replaceFirst("#.*", "").trim())
          .filter(line -> !line.isEmpty())
          .toList();
    } catch (IOException e) {
      throw new Arguments.UsageException("cannot read " + file + ": " + e.getMessage());
    }
  }

  private Command export(Arguments args) {
    String out = args.value("--out");
    if (out == null) {
      throw new Arguments.UsageException("--out FILE is required");
    }
    if (args.positional().isEmpty()) {
      throw new Arguments.UsageException("name at least one image");
    }
    Path file = Path.of(out).toAbsolutePath();
    return client -> followJob(client, client.export(file, args.positional()));
  }

  private Command importBundle(Arguments args) {
    if (args.positional().size() != 1) {
      throw new Arguments.UsageException("name one bundle file");
    }
    Path file = Path.of(args.positional().get(0)).toAbsolutePath();
    boolean pin = args.flag("--pin");
    return client -> followJob(client, client.importBundle(file, pin));
  }

  private int followJob(CacheClient client, long id) throws InterruptedException {
    JobView job = new ProgressDisplay(out, terminal).follow(client, id);
    if (job.error() != null) {
      err.println("cistern " + job.kind() + ": " + job.error());
      return 1;
    }
    Outcome outcome = job.outcome();
    if (job.kind().equals("verify")) {
      return reportVerification(outcome, job.progress().elapsedMillis());
    }
    for (String image : outcome.images()) {
      out.println("  " + image);
    }
    String verb = switch (job.kind()) {
      case "warm" -> "fetched";
      case "export" -> "written";
      default -> "imported";
    };
    out.println(job.kind() + ": " + outcome.images().size() + " images, " + outcome.blobs() + " blobs " + verb + " ("
        + Formats.bytes(outcome.bytes()) + ")" + (outcome.skipped() > 0 ? ", " + outcome.skipped() + " already cached" : "")
        + " in " + job.progress().elapsedMillis() / 1000.0 + " s");
    for (String warning : outcome.warnings()) {
      err.println("warning: " + warning);
    }
    return 0;
  }

  private Command verify(Arguments args) {
    if (!args.positional().isEmpty()) {
      throw new Arguments.UsageException("verify takes no arguments but --repair");
    }
    boolean repair = args.flag("--repair");
    return client -> followJob(client, client.verify(repair));
  }

  /** One line per damaged blob, saying what was done and what is left to the operator; exit 1 if any. */
  private int reportVerification(Outcome outcome, long elapsedMillis) {
    List<BlobProblem> problems = outcome.problems();
    out.println("verify: " + outcome.blobs() + " blobs and manifests checked (" + Formats.bytes(outcome.bytes()) + ") in "
        + elapsedMillis / 1000.0 + " s: " + (problems.isEmpty() ? "nothing is damaged" : problems.size() + " damaged"));
    boolean unrepaired = false;
    for (BlobProblem problem : problems) {
      String done = switch (problem.action()) {
        case "quarantined" -> "moved to " + problem.quarantined() + " and its row dropped";
        case "row-dropped" -> "its row dropped";
        case "replaced" -> "left alone: a whole copy was stored in its place meanwhile";
        case "failed" -> "NOT repaired";
        default -> "not repaired";
      };
      unrepaired |= problem.action().equals("found");
      String next = problem.action().equals("replaced") ? ""
          : problem.onlyCopy() ? "; it was the only copy (pinned, or no online upstream has it): restore it by importing"
              + " a bundle that holds it, or pull it once its upstream is back"
          : problem.action().equals("found") || problem.action().equals("failed") ? ""
          : "; the next pull fetches it again";
      out.println("  " + problem.digest() + " " + problem.problem().replace('-', ' ') + " (" + problem.detail() + "): "
          + done + next);
    }
    if (unrepaired) {
      err.println("run `cistern verify --repair` to move damaged files to quarantine, so that they are fetched again");
    }
    return problems.isEmpty() ? 0 : 1;
  }

  private Command list(Arguments args) {
    if (args.positional().size() > 1) {
      throw new Arguments.UsageException("name at most one repository");
    }
    String repository = args.positional().isEmpty() ? null : args.positional().get(0);
    int limit = args.value("--limit") == null ? LS_LIMIT : positiveNumber(args.value("--limit"));
    boolean json = args.flag("--json");
    return client -> {
      List<ImageView> images = client.images(repository, limit);
      if (json) {
        out.println(Json.prettyString(images));
        return 0;
      }
      if (images.isEmpty()) {
        out.println("nothing cached" + (repository == null ? "" : " in " + repository));
        return 0;
      }
      List<String[]> rows = new ArrayList<>();
      rows.add(new String[] {"IMAGE", "DIGEST", "PINNED", "LAST ACCESS", "BLOBS", "SIZE"});
      for (ImageView image : images) {
        String name = image.upstream() + "/" + image.repository() + (image.tag() != null ? ":" + image.tag() : "");
        rows.add(new String[] {name, Formats.shortDigest(image.digest()), image.pinned() ? "pinned" : "",
            Formats.time(image.lastAccess()), image.blobs() + (image.missing() > 0 ? " (+" + image.missing() + " not cached)" : ""),
            Formats.bytes(image.bytes())});
      }
      Formats.table(rows, 4).forEach(out::println);
      return 0;
    };
  }

  private static int positiveNumber(String text) {
    try {
      int value = Integer.parseInt(text);
      if (value > 0) {
        return value;
      }
    } catch (NumberFormatException e) {
      // Falls through to the usage error.
    }
    throw new Arguments.UsageException("--limit must be a positive number");
  }

  private Command stats(Arguments args) {
    if (!args.positional().isEmpty()) {
      throw new Arguments.UsageException("stats takes no arguments");
    }
    boolean json = args.flag("--json");
    return client -> {
      StatsView stats = client.stats();
      if (json) {
        out.println(Json.prettyString(stats));
        return 0;
      }
      double usage = stats.maxBytes() == 0 ? 0 : (double) stats.storedBytes() / stats.maxBytes();
      out.println("cache       " + client.description());
      out.println("size        " + Formats.bytes(stats.storedBytes()) + " of " + Formats.bytes(stats.maxBytes()) + " ("
          + Formats.percent(usage) + "), eviction down to " + Formats.bytes(stats.lowWaterBytes()));
      out.println("entries     " + stats.entries() + " blobs and manifests"
          + (stats.reservedBytes() > 0 ? ", " + Formats.bytes(stats.reservedBytes()) + " reserved by downloads" : ""));
      out.println("pinned      " + stats.pinnedBlobs() + " (" + Formats.bytes(stats.pinnedBytes()) + ")");
      out.println("evicted     " + stats.evictedBlobs() + " (" + Formats.bytes(stats.evictedBytes()) + ") in "
          + stats.evictionPasses() + " passes since start");
      TrafficView traffic = stats.traffic();
      if (traffic == null) {
        out.println("hit ratio   n/a: no server is running (it counts hits while it serves)");
      } else {
        out.println("hit ratio   " + Formats.percent(traffic.hitRatio()) + " (" + traffic.hits() + " hits, "
            + traffic.misses() + " misses since the server started)");
        out.println("saved       " + Formats.bytes(traffic.bytesFromCache()) + " served from the cache, "
            + Formats.bytes(traffic.bytesFromUpstream()) + " fetched from upstreams while serving");
      }
      for (DownloadView download : stats.downloads()) {
        out.println("downloading " + Formats.shortDigest(download.digest()) + " " + Formats.bytes(download.writtenBytes())
            + (download.expectedBytes() >= 0 ? " of " + Formats.bytes(download.expectedBytes()) : ""));
      }
      if (!stats.topRepositories().isEmpty()) {
        out.println("top repositories:");
        List<String[]> rows = new ArrayList<>();
        for (RepositoryUsage repository : stats.topRepositories()) {
          rows.add(new String[] {"  " + repository.upstream() + "/" + repository.repository(),
              repository.blobs() + " blobs", Formats.bytes(repository.bytes())});
        }
        Formats.table(rows, 1).forEach(out::println);
      }
      return 0;
    };
  }

  private Command pin(String command, Arguments args) {
    if (args.positional().size() != 1) {
      throw new Arguments.UsageException("name one image");
    }
    String image = args.positional().get(0);
    return client -> {
      PinView pin = command.equals("pin") ? client.pin(image) : client.unpin(image);
      out.println((pin.pinned() ? "pinned " : "unpinned ") + pin.image() + " (" + pin.digest() + "): " + pin.blobs()
          + " blobs and manifests, " + Formats.bytes(pin.bytes())
          + (pin.missing() > 0 ? "; " + pin.missing() + " not cached yet (pinned when they are)" : ""));
      if (command.equals("unpin") && pin.pinned()) {
        out.println("note: it is still pinned as part of another pinned image");
      }
      return 0;
    };
  }

  private Command purge(Arguments args) {
    String olderThan = args.value("--older-than");
    if ((olderThan == null) == (args.positional().size() != 1) || args.positional().size() > 1) {
      throw new Arguments.UsageException("name one image, or --older-than AGE");
    }
    return client -> {
      PurgeView purge = olderThan != null ? client.purgeOlderThan(olderThan) : client.purge(args.positional().get(0));
      out.println("purged " + purge.target() + ": " + purge.blobs() + " blobs and manifests, " + Formats.bytes(purge.bytes()));
      if (purge.note() != null) {
        out.println("note: " + purge.note());
      }
      return 0;
    };
  }

  /**
   * Operators' commands print their own output; the components they run (the cache, its
   * recovery) log only warnings, and to standard error, so that output can be piped.
   */
  private static void logWarningsToStandardError() {
    if (!(LoggerFactory.getILoggerFactory() instanceof LoggerContext context)) {
      return;
    }
    ch.qos.logback.classic.Logger root = context.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    root.setLevel(Level.WARN);
    Appender<ILoggingEvent> console = root.getAppender("console");
    if (console instanceof ConsoleAppender<ILoggingEvent> appender) {
      appender.stop();
      appender.setTarget("System.err");
      appender.start();
    }
  }
}
