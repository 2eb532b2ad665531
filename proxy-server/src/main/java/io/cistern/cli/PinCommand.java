package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.parameter;

import io.cistern.ops.PinView;
import picocli.CommandLine.Model.PositionalParamSpec;

/** {@code cistern pin} and {@code cistern unpin}: keep an image from eviction, or let it go again. */
final class PinCommand extends CacheCommand {

  private final boolean pin;
  private final PositionalParamSpec image;

  private PinCommand(Session session, boolean pin, String image, String... description) {
    super(session, pin ? "pin" : "unpin", description);
    this.pin = pin;
    this.image = parameter(String.class, "REF", "1", image);
    spec().addPositional(this.image);
  }

  static PinCommand pin(Session session) {
    return new PinCommand(session, true, "the image to pin: [upstream/]repository[:tag|@digest]",
        "Keeps an image from eviction.",
        "Pins a cached image: its manifest and everything it refers to (all platforms of an index, and any pulled"
            + " later) are never evicted.");
  }

  static PinCommand unpin(Session session) {
    return new PinCommand(session, false, "the image to unpin: [upstream/]repository[:tag|@digest]",
        "Lets a pinned image be evicted again.",
        "Unpins an image: by tag, the image pinned under that tag, even if the tag has moved since or is not"
            + " cached here; by digest, the image whatever names pinned it on this member (in a cluster's bucket,"
            + " only the pin made by that digest). A tag or digest nothing pins fails, and unpins nothing. What"
            + " another pinned image shares stays pinned.");
  }

  @Override
  Work work() {
    String reference = image.getValue();
    return client -> {
      PinView done = pin ? client.pin(reference) : client.unpin(reference);
      // An unpin may be of an image this member never cached (pinned on another member).
      String missing = pin ? " not cached yet (pinned when they are)" : " not cached here";
      session.out().println((pin ? "pinned " : "unpinned ") + done.image() + " (" + done.digest() + "): "
          + done.blobs() + " blobs and manifests, " + Formats.bytes(done.bytes())
          + (done.missing() > 0 ? "; " + done.missing() + missing : ""));
      if (!pin && done.pinned()) {
        session.out().println("note: it is still pinned under another name: unpin that name too, or unpin it by"
            + " digest, to let it go");
      }
      return 0;
    };
  }
}
