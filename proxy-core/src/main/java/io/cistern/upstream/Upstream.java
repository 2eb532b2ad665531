package io.cistern.upstream;

import java.time.Duration;

/**
 * One configured upstream as the pull-through logic sees it: its client, how long a tag it
 * resolved stays fresh, and whether it may be contacted at all.
 *
 * @param offline serve only what is cached; never contact this upstream
 */
public record Upstream(RegistryClient client, Duration tagTtl, boolean offline) {

  public String host() {
    return client.host();
  }
}
