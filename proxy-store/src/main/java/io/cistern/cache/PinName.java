package io.cistern.cache;

import io.cistern.oci.Reference;
import io.cistern.oci.RepositoryName;

/**
 * The name an image was pinned under: a tag, or a digest, of a repository at one upstream. A tag
 * may move after its pin; the pin stays on the image the tag named when it was pinned.
 */
public record PinName(String upstream, RepositoryName repository, Reference reference) {

  public static PinName of(TagKey tag) {
    return new PinName(tag.upstream(), tag.repository(), tag.tag());
  }
}
