package io.cistern.upstream;

import java.time.Duration;

/**
 * One configured upstream as the pull-through logic sees it: its client, how long a tag it
 * resolved stays fresh and how it is revalidated after that, whether it may be contacted at all, and which
 * of its repositories are served.
 *
 * @param tagRevalidation whether a client asking for a tag past its TTL waits for its revalidation
 * @param maxStale with background revalidation, how long past its TTL a tag may still be served
 *     before it is revalidated; after that its clients wait, as with blocking revalidation
 * @param offline serve only what is cached; never contact this upstream
 * @param repositories its allow and deny globs; {@link RepositoryRules#NONE} to serve every repository
 */
public record Upstream(RegistryClient client, Duration tagTtl, TagRevalidation tagRevalidation, Duration maxStale,
    boolean offline, RepositoryRules repositories) {

  public String host() {
    return client.host();
  }
}
