package io.cistern.cli;

import io.cistern.Cistern;
import io.cistern.Settings;
import io.cistern.cache.CacheDirectory;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import io.cistern.ops.OperationException;
import java.io.IOException;
import java.util.concurrent.Callable;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.ParameterException;

/**
 * An operator's command on the cache (everything but {@code serve}). It opens the cache directory
 * itself when no server has it open; when one does (the directory is locked), it goes through
 * that server's admin API, so one process is ever the writer.
 *
 * <p>Subclasses declare their options and parameters on {@link #spec()}, from which picocli both
 * parses and writes {@code --help}, and check what they were given in {@link #work()}.
 */
abstract class CacheCommand implements Callable<Integer> {

  /** What a command does with the cache once its arguments are known to be right. */
  @FunctionalInterface
  interface Work {
    /** @return the exit code */
    int run(CacheClient client) throws InterruptedException, IOException;
  }

  protected final Session session;
  private final CommandSpec spec;

  /**
   * @param description its first line is the summary in {@code cistern --help}; the others follow
   *     it in {@code cistern NAME --help}
   */
  CacheCommand(Session session, String name, String... description) {
    this.session = session;
    this.spec = CommandSpec.wrapWithoutInspection(this).name(name);
    spec.usageMessage().description(description);
  }

  /** The command's definition: picocli parses by it and writes its help from it. */
  CommandSpec spec() {
    return spec;
  }

  /**
   * Checks the arguments (a mistake is a {@link #usage} error) and returns what to do. It runs
   * before the configuration is read and the cache opened, so a usage error never locks the cache.
   */
  abstract Work work();

  /** Whether the command may create a cache; elsewhere a missing one means a wrong configuration. */
  boolean createsCache() {
    return false;
  }

  /** A mistake on the command line: one line naming it, and exit code 2. */
  ParameterException usage(String message) {
    return new ParameterException(spec.commandLine(), message);
  }

  @Override
  public final Integer call() {
    Work work = work();
    String command = spec.qualifiedName();
    session.logOnlyWarningsToStandardError();
    Settings settings;
    try {
      settings = session.settings();
    } catch (ConfigException | IllegalArgumentException e) {
      session.err().println("cistern: " + e.getMessage());
      return 2;
    }
    CisternConfig config = settings.config();
    if (!createsCache() && !CacheDirectory.existsIn(config.cache().directory())) {
      session.err().println(command + ": there is no cache in " + config.cache().directory().toAbsolutePath()
          + " (cache.directory); is the configuration the server's?");
      return 1;
    }
    try (CacheClient client = connect(settings)) {
      return work.run(client);
    } catch (OperationException e) {
      session.err().println(command + ": " + e.getMessage());
      return 1;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      session.err().println(command + ": interrupted");
      return 1;
    } catch (IOException | RuntimeException e) {
      // A failure the operation did not foresee (a database or disk error): its message, not a trace.
      session.err().println(command + ": " + (e.getMessage() != null ? e.getMessage() : e.toString()));
      return 1;
    }
  }

  /** The cache directory itself when no server has it open; the server's admin API when one does. */
  private CacheClient connect(Settings settings) {
    CisternConfig config = settings.config();
    try {
      return new LocalClient(Cistern.openTools(settings, session.clock(), session.environment()), config.cache().directory());
    } catch (CacheDirectory.CacheInUseException running) {
      return new AdminClient(AdminClient.baseFor(config.admin().address(), config.admin().port()), config.admin().token(),
          config.admin().effectiveBundleDirectory(config.cache().directory()));
    }
  }
}
