package io.cistern.ops;

/**
 * A blob download under way.
 *
 * @param expectedBytes the size the upstream announced, or -1
 */
public record DownloadView(String digest, long writtenBytes, long expectedBytes) {}
