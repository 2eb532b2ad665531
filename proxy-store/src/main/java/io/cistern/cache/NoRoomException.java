package io.cistern.cache;

import java.time.Duration;

/**
 * A blob that fits under the byte cap found no room within the reservation timeout: the evictor
 * freed none (what is stored is pinned, or still downloading). Room may be freed later, so the
 * answer says when to try again.
 */
public final class NoRoomException extends RuntimeException {

  private final transient Duration retryAfter;

  NoRoomException(long bytes, Duration waited) {
    super("the cache is full and no room for " + bytes + " bytes was freed within " + waited);
    this.retryAfter = waited;
  }

  /** When trying again may find room: after as long as this one waited. */
  public Duration retryAfter() {
    return retryAfter;
  }
}
