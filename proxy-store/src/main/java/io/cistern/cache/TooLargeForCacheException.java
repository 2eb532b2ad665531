package io.cistern.cache;

/** A blob larger than the whole byte cap: no eviction could ever make room for it, so it is not cached. */
public final class TooLargeForCacheException extends RuntimeException {

  TooLargeForCacheException(long bytes, long maxBytes) {
    super("blob of " + bytes + " bytes is larger than the whole cache (" + maxBytes + " bytes)");
  }
}
