package io.cistern.cache;

import io.cistern.oci.Digest;
import java.time.Duration;
import java.time.Instant;

/** What a tag pointed at, and when that was last confirmed with the upstream. */
public record TagMapping(TagKey key, Digest digest, Instant resolvedAt) {

  public boolean isFresh(Instant now, Duration ttl) {
    return resolvedAt.plus(ttl).isAfter(now);
  }
}
