package io.cistern.cache;

import io.cistern.oci.Digest;

/** A purge named a pinned image (or part of one): it must be unpinned first. */
public final class PinnedImageException extends IllegalStateException {

  PinnedImageException(Digest digest) {
    super(digest + " is pinned (or part of a pinned image): unpin it before purging it");
  }
}
