package io.cistern.cache;

import io.cistern.oci.Digest;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Last-access times of cache hits, held in memory so that a hit costs a map update rather than a
 * SQLite write. The evictor drains them into the database in one batch, on its own connection,
 * before it ranks blobs for eviction, so the LRU order it uses is current.
 */
final class AccessTracker {

  private final ConcurrentHashMap<Digest, Long> pending = new ConcurrentHashMap<>();

  void record(Digest digest, long epochMillis) {
    pending.merge(digest, epochMillis, Math::max);
  }

  /** Takes the buffered times; an access recorded meanwhile stays for the next drain. */
  Map<Digest, Long> drain() {
    Map<Digest, Long> drained = new HashMap<>();
    for (Map.Entry<Digest, Long> entry : pending.entrySet()) {
      if (pending.remove(entry.getKey(), entry.getValue())) {
        drained.put(entry.getKey(), entry.getValue());
      }
    }
    return drained;
  }

  /** When {@code digest} was last read since the last drain, or null. */
  Long latest(Digest digest) {
    return pending.get(digest);
  }

  /** Whether {@code digest} was read since the last drain. */
  boolean contains(Digest digest) {
    return pending.containsKey(digest);
  }

  int size() {
    return pending.size();
  }
}
