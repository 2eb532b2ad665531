package io.cistern.config;

import java.util.List;

/**
 * A mapping of the configuration being read as one of {@link CisternConfig}'s records: it takes
 * the keys it is given, in any case, and refuses any other, so that a misspelt key is a mistake
 * rather than a setting silently left at its default.
 */
final class ConfigSection {

  private final String path;
  private final ConfigMapping mapping;
  private final List<String> keys;

  /** @throws ConfigException naming the first key of {@code mapping} that is not one of {@code keys} */
  ConfigSection(String path, ConfigMapping mapping, List<String> keys) {
    this.path = path;
    this.mapping = mapping;
    this.keys = keys;
    for (String key : mapping.keys()) {
      if (!takes(key)) {
        throw new ConfigException(child(key) + ": not a configuration key; " + ConfigValue.name(path) + " takes "
            + String.join(", ", keys));
      }
    }
  }

  /**
   * The value at {@code key}, one of the section's keys, with its path spelt as {@code key} is.
   *
   * @throws IllegalStateException for a key the section was not given: a mistake in Cistern's code
   */
  ConfigValue get(String key) {
    if (!keys.contains(key)) {
      throw new IllegalStateException(key + " is not among " + keys);
    }
    return new ConfigValue(child(key), mapping.get(key));
  }

  private boolean takes(String key) {
    for (String known : keys) {
      if (known.equalsIgnoreCase(key)) {
        return true;
      }
    }
    return false;
  }

  private String child(String key) {
    return path.isEmpty() ? key : path + "." + key;
  }
}
