package io.cistern.upstream;

import java.time.Duration;

/**
 * One configured upstream as the pull-through logic sees it: its client, how long a tag it
 * resolved stays fresh and how it is revalidated after that, and whether it may be contacted at all.
 *
 * @param tagRevalidation whether a client asking for a tag past its TTL waits for its revalidation
 * @param maxStale with background revalidation, how long past its TTL a tag may still be served
 *     before it is revalidated; after that its clients wait, as with blocking revalidation
 * @param offline serve only what is cached; never contact this upstream
 */
public record Upstream(RegistryClient client, Duration tagTtl, TagRevalidation tagRevalidation, Duration maxStale,
    boolean offline) {

  public String host() {
    return client.host();
  }
}
