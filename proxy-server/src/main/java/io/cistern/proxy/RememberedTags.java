package io.cistern.proxy;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.oci.Digest;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The tag mappings held in memory in front of SQLite, bounded, with an index by digest, so that
 * forgetting an evicted manifest's tags costs what it has tags, not a walk of every mapping.
 *
 * <p>Concurrency: every change to a key's mapping (put, invalidate, forget, and Caffeine's own
 * size eviction, whose listener runs inside the removal) happens inside the map's atomic
 * operation on that key, and updates the index there, so the index never disagrees with the
 * map about a key for longer than that operation. Locks are only ever taken in that order (the
 * key's, then the digest's), so the nesting cannot deadlock.
 */
final class RememberedTags {

  private final Cache<TagKey, TagMapping> byKey;
  private final ConcurrentHashMap<Digest, Set<TagKey>> byDigest = new ConcurrentHashMap<>();

  RememberedTags(long maximumSize) {
    this.byKey = Caffeine.newBuilder()
        .maximumSize(maximumSize)
        .evictionListener((TagKey key, TagMapping mapping, RemovalCause cause) -> {
          if (key != null && mapping != null) {
            unindex(key, mapping.digest());
          }
        })
        .build();
  }

  TagMapping get(TagKey key) {
    return byKey.getIfPresent(key);
  }

  void put(TagMapping mapping) {
    byKey.asMap().compute(mapping.key(), (key, old) -> {
      if (old != null) {
        unindex(key, old.digest());
      }
      // Added inside the digest's own atomic update, as unindex removes an emptied set in its own:
      // a key can never be added to a set that has just left the index.
      byDigest.compute(mapping.digest(), (digest, keys) -> {
        Set<TagKey> indexed = keys != null ? keys : ConcurrentHashMap.newKeySet();
        indexed.add(key);
        return indexed;
      });
      return mapping;
    });
  }

  void invalidate(TagKey key) {
    byKey.asMap().computeIfPresent(key, (k, old) -> {
      unindex(k, old.digest());
      return null;
    });
  }

  /** Drops the mappings that point at {@code digest} (its manifest is gone). */
  void forget(Digest digest) {
    Set<TagKey> keys = byDigest.get(digest);
    if (keys == null) {
      return;
    }
    for (TagKey key : List.copyOf(keys)) {
      byKey.asMap().computeIfPresent(key, (k, mapping) -> {
        if (!mapping.digest().equals(digest)) {
          return mapping;
        }
        unindex(k, digest);
        return null;
      });
    }
  }

  /** How many digests the index holds; for tests that it follows the map. */
  int indexedDigests() {
    return byDigest.size();
  }

  /** Runs Caffeine's pending upkeep now; for tests. */
  void cleanUp() {
    byKey.cleanUp();
  }

  private void unindex(TagKey key, Digest digest) {
    byDigest.computeIfPresent(digest, (d, keys) -> {
      keys.remove(key);
      return keys.isEmpty() ? null : keys;
    });
  }
}
