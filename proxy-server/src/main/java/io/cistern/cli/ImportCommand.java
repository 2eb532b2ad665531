package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.flag;
import static io.cistern.cli.ArgumentSpecs.parameter;

import java.nio.file.Path;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code cistern import}: loads a bundle into the cache. */
final class ImportCommand extends CacheCommand {

  private final PositionalParamSpec bundle = parameter(Path.class, "FILE", "1", "the bundle to load");
  private final OptionSpec pin = flag("pins the imported images", "--pin");

  ImportCommand(Session session) {
    super(session, "import",
        "Loads a bundle into the cache.",
        "Every blob's digest and size is verified and published atomically; blobs already cached are skipped, so"
            + " an interrupted import is carried on by running it again. Manifests and tags are added only once"
            + " everything they refer to is in. While a server runs, FILE must be in its bundle directory"
            + " (by default the cache directory's bundles/; admin.bundleDirectory).");
    spec().addPositional(bundle).addOption(pin);
  }

  @Override
  boolean createsCache() {
    return true;
  }

  @Override
  Work work() {
    Path file = bundle.<Path>getValue().toAbsolutePath();
    boolean pinned = pin.getValue();
    return client -> new JobReport(session).follow(client, client.importBundle(file, pinned));
  }
}
