package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import java.time.Instant;

/**
 * A cached image as an operator sees it: a tag (or a manifest pulled by digest) of a repository,
 * with what is stored of it.
 *
 * @param tag null for a manifest the repository holds untagged
 * @param mediaType the manifest's media type; null when the manifest itself is no longer stored
 * @param bytes stored bytes of the manifest and everything it refers to, shared content included
 * @param blobs stored manifests and blobs of the image
 * @param missing digests the image refers to that are not stored (platforms never pulled)
 * @param lastAccess when the manifest was last read
 * @param pinned whether eviction skips it
 */
public record CachedImage(
    String upstream,
    RepositoryName repository,
    String tag,
    Digest digest,
    String mediaType,
    long bytes,
    int blobs,
    int missing,
    Instant lastAccess,
    boolean pinned) {}
