package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.flag;
import static io.cistern.cli.ArgumentSpecs.option;
import static io.cistern.cli.ArgumentSpecs.parameter;

import io.cistern.oci.Json;
import io.cistern.ops.ImageView;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code cistern ls}: the cached images, with their sizes and last access. */
final class ListCommand extends CacheCommand {

  private static final int DEFAULT_LIMIT = 100_000;

  private final PositionalParamSpec repository = parameter(String.class, "REPOSITORY", "0..1",
      "only this repository's images: [upstream/]repository");
  private final OptionSpec limit = option(Integer.class, "N", "lists at most N images (default " + DEFAULT_LIMIT + ")",
      "--limit");
  private final OptionSpec json = flag("prints the list as JSON, as the admin API's /api/images", "--json");

  ListCommand(Session session) {
    super(session, "ls",
        "Lists cached images with sizes and last access.",
        "Tags, and manifests pulled by digest, with their digest, pin, last access, blobs and stored size.");
    spec().addPositional(repository).addOption(limit).addOption(json);
  }

  @Override
  Work work() {
    String only = repository.getValue();
    Integer most = limit.getValue();
    if (most != null && most <= 0) {
      throw usage("--limit must be a positive number");
    }
    int count = most != null ? most : DEFAULT_LIMIT;
    boolean asJson = json.getValue();
    return client -> {
      List<ImageView> images = client.images(only, count);
      if (asJson) {
        session.out().println(Json.prettyString(images));
        return 0;
      }
      if (images.isEmpty()) {
        session.out().println("nothing cached" + (only == null ? "" : " in " + only));
        return 0;
      }
      List<String[]> rows = new ArrayList<>();
      rows.add(new String[] {"IMAGE", "DIGEST", "PINNED", "LAST ACCESS", "BLOBS", "SIZE"});
      for (ImageView image : images) {
        String name = image.upstream() + "/" + image.repository() + (image.tag() != null ? ":" + image.tag() : "");
        rows.add(new String[] {name, Formats.shortDigest(image.digest()), image.pinned() ? "pinned" : "",
            Formats.time(image.lastAccess()),
            image.blobs() + (image.missing() > 0 ? " (+" + image.missing() + " not cached)" : ""),
            Formats.bytes(image.bytes())});
      }
      Formats.table(rows, 4).forEach(session.out()::println);
      return 0;
    };
  }
}
