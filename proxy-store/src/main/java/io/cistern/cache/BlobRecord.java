package io.cistern.cache;

import io.cistern.oci.Digest;

/**
 * The metadata row of a stored blob.
 *
 * @param mediaType the manifest media type; null for layers and configs
 * @param lastAccess epoch milliseconds of the last read, as of the last access flush
 */
public record BlobRecord(Digest digest, long size, String mediaType, long storedAt, long lastAccess, boolean pinned) {}
