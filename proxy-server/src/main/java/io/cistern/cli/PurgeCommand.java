package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.option;
import static io.cistern.cli.ArgumentSpecs.parameter;

import io.cistern.ops.PurgeView;
import picocli.CommandLine.Model.ArgGroupSpec;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code cistern purge}: removes an image, or everything not read for a while, now. */
final class PurgeCommand extends CacheCommand {

  private final PositionalParamSpec image = parameter(String.class, "REF", "1",
      "the image, [upstream/]repository[:tag|@digest]: by tag, the tag and (unless another tag or repository still refers to it) the image;"
          + " by digest, the image and its tags");
  private final OptionSpec olderThan = option(String.class, "AGE",
      "removes every unpinned blob and manifest not read for AGE: 30d (s, m, h, d)", "--older-than");

  PurgeCommand(Session session) {
    super(session, "purge",
        "Removes images now.",
        "Content other images share stays; pinned images are refused.");
    // One or the other, never both: picocli checks that, and writes it into the usage line.
    spec().addArgGroup(ArgGroupSpec.builder().exclusive(true).multiplicity("1").addArg(image).addArg(olderThan).build());
  }

  @Override
  Work work() {
    String reference = image.getValue();
    String age = olderThan.getValue();
    return client -> {
      PurgeView purge = age != null ? client.purgeOlderThan(age) : client.purge(reference);
      session.out().println("purged " + purge.target() + ": " + purge.blobs() + " blobs and manifests, "
          + Formats.bytes(purge.bytes()));
      if (purge.note() != null) {
        session.out().println("note: " + purge.note());
      }
      return 0;
    };
  }
}
