package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;

/** The referrers of a subject manifest in a repository at one upstream: lists of different upstreams never mix. */
public record ReferrersKey(String upstream, RepositoryName repository, Digest subject) {

  @Override
  public String toString() {
    return "referrers of " + upstream + "/" + repository + "@" + subject;
  }
}
