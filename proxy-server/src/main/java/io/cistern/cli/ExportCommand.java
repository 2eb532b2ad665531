package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.option;
import static io.cistern.cli.ArgumentSpecs.parameters;
import static io.cistern.cli.ArgumentSpecs.values;

import java.nio.file.Path;
import java.util.List;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code cistern export}: writes cached images into a bundle file. */
final class ExportCommand extends CacheCommand {

  private final OptionSpec out = OptionSpec.builder(option(Path.class, "FILE",
      "the bundle to write; it must not exist", "-o", "--out")).required(true).build();
  private final PositionalParamSpec images = parameters(String.class, "REF", "1..*", "the images to write: [upstream/]repository[:tag|@digest]");

  ExportCommand(Session session) {
    super(session, "export",
        "Writes cached images into a bundle.",
        "The bundle FILE is a tar holding an OCI image layout and cistern-bundle.json, the tags with their upstream"
            + " hosts. Nothing is fetched: the images must be cached (see warm); platforms of an index that are not"
            + " fully cached are left out, with a warning. While a server runs, FILE must be in its bundle"
            + " directory (by default the cache directory's bundles/; admin.bundleDirectory).");
    spec().addOption(out).addPositional(images);
  }

  @Override
  Work work() {
    Path file = out.<Path>getValue().toAbsolutePath();
    List<String> references = values(images);
    return client -> new JobReport(session).follow(client, client.export(file, references));
  }
}
