package io.cistern.http;

import io.cistern.cache.FillSource;
import java.time.Duration;
import java.time.Instant;

/**
 * One answered request of the registry port, as the access log and the metrics see it.
 *
 * @param time when the answer ended
 * @param remote the client's address
 * @param user who authenticated, or null for an anonymous request
 * @param uri the request target as sent (path and query)
 * @param route which endpoint it was: {@code base}, {@code manifest}, {@code blob}, {@code tags},
 *     {@code referrers}, {@code catalog}, {@code upload} or {@code unknown}
 * @param status the status sent; {@value #CLIENT_CLOSED} when the client left before any answer
 * @param bytes body bytes handed to the connection
 * @param cache whether a manifest or blob GET was answered from the cache
 * @param upstream the upstream the request was routed to, or null
 * @param complete false when the connection closed before the whole answer was sent
 * @param source for a miss, where the bytes came from: the upstream, the bucket or a member (a
 *     blob being filled: the origin filling it when the answer ended); null otherwise, and for
 *     manifests (whose misses count as the upstream's)
 */
public record ServedRequest(
    Instant time,
    String remote,
    String user,
    String method,
    String uri,
    String route,
    int status,
    long bytes,
    Duration duration,
    Cache cache,
    String upstream,
    boolean complete,
    FillSource source) {

  /** The status logged for a request whose client went away before it was answered (as nginx does). */
  public static final int CLIENT_CLOSED = 499;

  /** Whether the cache answered: for a manifest, without asking the upstream; for a blob, from a stored file. */
  public enum Cache {
    HIT, MISS, NONE
  }
}
