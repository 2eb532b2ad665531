package io.cistern.config;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * A mapping of the configuration tree (see {@link YamlTree}). Its keys match in any case, as the
 * configuration's keys do, so a file's {@code MaxBytes} overrides the defaults' {@code maxBytes}
 * and {@code CISTERN_CACHE_MAXBYTES} does too; a key keeps the spelling it was first given.
 */
final class ConfigMapping {

  private final Map<String, Object> entries = new LinkedHashMap<>();

  boolean has(String key) {
    return entries.containsKey(spelling(key));
  }

  /** The value at {@code key}: a mapping, a list, a scalar's text, or null (also for no such key). */
  Object get(String key) {
    return entries.get(spelling(key));
  }

  void put(String key, Object value) {
    entries.put(spelling(key), value);
  }

  /** The keys as spelt here, in the order they were first given. */
  Set<String> keys() {
    return entries.keySet();
  }

  /** {@code key} as this mapping spells it, or as given when it has no such key. */
  private String spelling(String key) {
    for (String candidate : entries.keySet()) {
      if (candidate.equalsIgnoreCase(key)) {
        return candidate;
      }
    }
    return key;
  }
}
