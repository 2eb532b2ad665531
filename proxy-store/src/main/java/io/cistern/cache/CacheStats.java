package io.cistern.cache;

/**
 * A snapshot of the cache's size and eviction counters, for metrics and the admin API.
 *
 * @param storedBytes bytes of published blobs
 * @param reservedBytes bytes claimed by downloads under way
 * @param entries published blobs
 * @param maxBytes the cap (high-water mark)
 * @param lowWaterBytes where a pass stops evicting
 * @param peakBytes the most bytes ever stored plus reserved at once since start
 * @param waitingReservations downloads waiting for room now
 * @param refusedReservations downloads refused: larger than the cap, no room on the disk (below
 *     {@code minFreeBytes}), or no room in time
 * @param evictionPasses passes run since start
 * @param failedEvictionPasses passes that ended with an error (retried on the next poke or tick)
 * @param evictedBlobs blobs evicted since start
 * @param evictedBytes bytes evicted since start
 */
public record CacheStats(
    long storedBytes,
    long reservedBytes,
    long entries,
    long maxBytes,
    long lowWaterBytes,
    long peakBytes,
    int waitingReservations,
    long refusedReservations,
    long evictionPasses,
    long failedEvictionPasses,
    long evictedBlobs,
    long evictedBytes) {}
