package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.parameters;
import static io.cistern.cli.ArgumentSpecs.repeatable;
import static io.cistern.cli.ArgumentSpecs.values;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code cistern warm}: pulls images into the cache through the upstreams, as a client pull would. */
final class WarmCommand extends CacheCommand {

  private final PositionalParamSpec images = parameters(String.class, "REF", "0..*", "the images to pull: [upstream/]repository[:tag|@digest]");
  private final OptionSpec files = repeatable(Path.class, "FILE",
      "reads references from FILE too, one a line (# starts a comment)", "-f", "--file");
  private final OptionSpec platforms = repeatable(String.class, "OS/ARCH[,OS/ARCH...]",
      "of an index, only these platforms (linux/amd64, linux/arm64/v8); by default all", "--platform");

  WarmCommand(Session session) {
    super(session, "warm",
        "Pulls images into the cache through the upstreams.",
        "Pulls as a client would, through the configured upstreams: the manifest, every platform of an index (or"
            + " only those named with --platform; the index itself is always cached), then every blob. Shows bytes,"
            + " blobs done and the rate: one redrawn line on a terminal, plain lines else.");
    spec().addPositional(images).addOption(files).addOption(platforms);
  }

  @Override
  boolean createsCache() {
    return true;
  }

  @Override
  Work work() {
    List<String> references = new ArrayList<>(values(images));
    for (Path file : ArgumentSpecs.<Path>values(files)) {
      references.addAll(readImageList(file));
    }
    if (references.isEmpty()) {
      throw usage("name at least one image (or -f FILE)");
    }
    List<String> only = new ArrayList<>();
    for (String list : ArgumentSpecs.<String>values(platforms)) {
      Arrays.stream(list.split(",")).map(String::trim).filter(text -> !text.isEmpty()).forEach(only::add);
    }
    return client -> new JobReport(session).follow(client, client.warm(references, only));
  }

  private List<String> readImageList(Path file) {
    try {
      return Files.readAllLines(file).stream()
          .map(line -> line.replaceFirst("#.*", "").trim())
          .filter(line -> !line.isEmpty())
          .toList();
    } catch (IOException e) {
      throw usage("cannot read " + file + ": " + e.getMessage());
    }
  }
}
