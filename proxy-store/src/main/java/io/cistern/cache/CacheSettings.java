package io.cistern.cache;

import java.nio.file.Path;
import java.time.Duration;

/**
 * How the cache on disk behaves.
 *
 * @param directory where blobs ({@code blobs/}) and the metadata database live
 * @param maxBytes the byte cap, also the high-water mark at which eviction starts
 * @param lowWaterFraction eviction frees down to this share of the cap (0.9: 90%)
 * @param accessFlushInterval how often buffered access times reach SQLite when nothing else
 *     wakes the evictor
 * @param reservationTimeout how long a download may wait for room before it is refused
 * @param poolSize metadata connections: one is the evictor's own, the rest serve requests
 * @param minFreeBytes free space the cache leaves on its file system: a download whose bytes
 *     would leave less is refused (507), and readiness fails below it
 */
public record CacheSettings(
    Path directory,
    long maxBytes,
    double lowWaterFraction,
    Duration accessFlushInterval,
    Duration reservationTimeout,
    int poolSize,
    long minFreeBytes) {

  public CacheSettings {
    if (maxBytes <= 0) {
      throw new IllegalArgumentException("cache.maxBytes must be positive");
    }
    if (!(lowWaterFraction > 0 && lowWaterFraction <= 1)) {
      throw new IllegalArgumentException("cache.lowWaterFraction must be in (0, 1]");
    }
    if (poolSize < 2) {
      throw new IllegalArgumentException("the metadata pool needs at least 2 connections: one for the evictor, one for requests");
    }
    if (minFreeBytes < 0) {
      throw new IllegalArgumentException("cache.minFreeDisk must not be negative");
    }
  }

  /** Settings that leave no free space in reserve: a download is refused only when it cannot fit at all. */
  public CacheSettings(Path directory, long maxBytes, double lowWaterFraction, Duration accessFlushInterval,
      Duration reservationTimeout, int poolSize) {
    this(directory, maxBytes, lowWaterFraction, accessFlushInterval, reservationTimeout, poolSize, 0);
  }

  public static CacheSettings defaults(Path directory, long maxBytes) {
    return new CacheSettings(directory, maxBytes, 0.9, Duration.ofSeconds(5), Duration.ofSeconds(60), 4);
  }

  public long lowWaterBytes() {
    return (long) (maxBytes * lowWaterFraction);
  }
}
