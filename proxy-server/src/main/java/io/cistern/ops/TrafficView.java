package io.cistern.ops;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * Manifests and blobs served since the server started.
 *
 * @param hits answered from the cache
 * @param misses that needed the upstream
 * @param bytesFromCache sent from the cache: bytes the upstreams did not have to send again
 * @param bytesFromUpstream sent while they were fetched (from the upstream, or in a cluster from the
 *     bucket or another member)
 */
public record TrafficView(long hits, long misses, long bytesFromCache, long bytesFromUpstream) {

  /** Hits over all answers, 0 before the first. */
  @JsonProperty("hitRatio")
  public double hitRatio() {
    long all = hits + misses;
    return all == 0 ? 0 : (double) hits / all;
  }
}
