package io.cistern.cache;

/** A snapshot of the cache's size and eviction counters, for metrics and the admin API. */
public record CacheStats(
    long storedBytes,
    long reservedBytes,
    long entries,
    long maxBytes,
    long evictionPasses,
    long evictedBlobs,
    long evictedBytes) {}
