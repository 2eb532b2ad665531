package io.cistern.ops;

import io.cistern.cache.CachedImage;

/**
 * A cached image as {@code cistern ls} and {@code GET /api/images} show it.
 *
 * @param tag null for a manifest the repository holds untagged (pulled by digest)
 * @param bytes stored bytes of the manifest and everything it refers to
 * @param blobs stored manifests and blobs of the image
 * @param missing what it refers to that is not stored (platforms never pulled)
 * @param lastAccess ISO-8601
 */
public record ImageView(String upstream, String repository, String tag, String digest, String mediaType, long bytes,
    int blobs, int missing, String lastAccess, boolean pinned) {

  static ImageView of(CachedImage image) {
    return new ImageView(image.upstream(), image.repository().value(), image.tag(), image.digest().toString(),
        image.mediaType(), image.bytes(), image.blobs(), image.missing(), image.lastAccess().toString(), image.pinned());
  }
}
