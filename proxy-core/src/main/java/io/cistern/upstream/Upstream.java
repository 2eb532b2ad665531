package io.cistern.upstream;

import java.time.Duration;

/**
 * One configured upstream as the pull-through logic sees it: its client, how long a tag it
 * resolved stays fresh, whether it may be contacted at all, and which of its repositories are served.
 *
 * @param offline serve only what is cached; never contact this upstream
 * @param repositories its allow and deny globs; {@link RepositoryRules#NONE} to serve every repository
 */
public record Upstream(RegistryClient client, Duration tagTtl, boolean offline, RepositoryRules repositories) {

  public String host() {
    return client.host();
  }
}
