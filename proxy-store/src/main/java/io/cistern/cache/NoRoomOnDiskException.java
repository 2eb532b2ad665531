package io.cistern.cache;

/**
 * The cache's file system is short of space: storing a blob would leave less than
 * {@code cache.minFreeDisk} free (or its free space cannot be read). Eviction frees space only
 * down to the byte cap, so waiting would not help; the blob is not cached.
 */
public final class NoRoomOnDiskException extends RuntimeException {

  NoRoomOnDiskException(String message, Throwable cause) {
    super(message, cause);
  }
}
