package io.cistern.cache;

/**
 * What an image holds in the cache, for pinning: its stored manifests and blobs, and how many of
 * the digests it refers to are not stored.
 */
public record ImageContent(int blobs, long bytes, int missing) {}
