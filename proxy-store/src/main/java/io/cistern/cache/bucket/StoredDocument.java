package io.cistern.cache.bucket;

/**
 * A small JSON object as read from the bucket, with the ETag that a conditional replace names.
 */
public record StoredDocument(byte[] json, String etag) {}
