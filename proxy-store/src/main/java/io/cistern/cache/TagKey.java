package io.cistern.cache;

import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;

/** A tag of a repository at one upstream: tags from different upstreams never mix. */
public record TagKey(String upstream, RepositoryName repository, Tag tag) {

  @Override
  public String toString() {
    return upstream + "/" + repository + ":" + tag;
  }
}
