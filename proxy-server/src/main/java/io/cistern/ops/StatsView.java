package io.cistern.ops;

import io.cistern.cache.RepositoryUsage;
import java.util.List;

/**
 * The cache at a glance, as {@code cistern stats}, {@code GET /api/stats} and the status page
 * show it.
 *
 * @param traffic what clients were served since the server started; null when no server runs
 * @param topRepositories the repositories holding the most bytes
 * @param downloads blob downloads under way (none when no server runs)
 * @param rateLimits the rate limits the upstreams reported, by upstream (none when no server runs)
 * @param upstreamUrls the url each upstream's requests start at, among its urls
 */
public record StatsView(
    long storedBytes,
    long maxBytes,
    long lowWaterBytes,
    long reservedBytes,
    long entries,
    long pinnedBlobs,
    long pinnedBytes,
    long evictionPasses,
    long evictedBlobs,
    long evictedBytes,
    TrafficView traffic,
    List<RepositoryUsage> topRepositories,
    List<DownloadView> downloads,
    List<RateLimitView> rateLimits,
    List<UpstreamUrlView> upstreamUrls) {}
