package io.cistern.cache;

/**
 * What one repository holds in the cache: the bytes and number of stored blobs its tags and
 * pulled manifests refer to, shared content counted once.
 */
public record RepositoryUsage(String upstream, String repository, long bytes, long blobs) {}
