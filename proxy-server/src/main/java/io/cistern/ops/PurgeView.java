package io.cistern.ops;

/**
 * What a purge removed.
 *
 * @param note why less was removed than asked for (a tag whose image others still use), or null
 */
public record PurgeView(String target, int blobs, long bytes, String note) {}
