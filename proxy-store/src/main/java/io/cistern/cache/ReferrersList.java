package io.cistern.cache;

import io.cistern.oci.Digest;
import java.time.Instant;

/**
 * A subject's referrers list as last fetched from its upstream.
 *
 * @param list the digest of the index document Cistern composed from the upstream's answer and
 *     stored like a manifest
 */
public record ReferrersList(ReferrersKey key, Digest list, Instant fetchedAt) {}
