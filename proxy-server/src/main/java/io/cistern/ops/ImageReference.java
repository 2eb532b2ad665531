package io.cistern.ops;

import io.cistern.oci.Digest;
import io.cistern.oci.Reference;
import io.cistern.oci.RegistryException;
import io.cistern.oci.Tag;

/**
 * An image as an operator names it: {@code [upstream/]repository[:tag|@digest]}, the way a client
 * pulls it through Cistern's path-prefix form ({@code ghcr.io/org/app:1.0}); a name without an
 * upstream means the default upstream, and one without a tag means {@code latest}.
 *
 * @param name what precedes the tag or digest, given to the upstream router as a request path's name
 */
public record ImageReference(String name, Reference reference) {

  private static final Tag LATEST = new Tag("latest");

  public static ImageReference parse(String text) {
    if (text == null || text.isBlank()) {
      throw new OperationException(400, "an image reference is [upstream/]repository[:tag|@digest]");
    }
    String trimmed = text.trim();
    try {
      int at = trimmed.indexOf('@');
      if (at >= 0) {
        return new ImageReference(nameOf(trimmed.substring(0, at), text), Digest.parse(trimmed.substring(at + 1)));
      }
      int colon = trimmed.lastIndexOf(':');
      if (colon > trimmed.lastIndexOf('/')) {
        String tag = trimmed.substring(colon + 1);
        if (!Tag.isValid(tag)) {
          throw new OperationException(400, "invalid tag '" + tag + "' in " + text);
        }
        return new ImageReference(nameOf(trimmed.substring(0, colon), text), new Tag(tag));
      }
      return new ImageReference(nameOf(trimmed, text), LATEST);
    } catch (RegistryException e) {
      throw new OperationException(400, "invalid image reference " + text + ": " + e.getMessage());
    }
  }

  private static String nameOf(String name, String text) {
    if (name.isEmpty()) {
      throw new OperationException(400, "no repository in " + text);
    }
    return name;
  }

  @Override
  public String toString() {
    return name + (reference instanceof Digest ? "@" : ":") + reference;
  }
}
