package io.cistern.config;

import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.function.Function;

/**
 * One value of the configuration tree at its key path ({@code upstreams[0].connectTimeout}), read
 * as the type its key takes. Every mistake is a {@link ConfigException} of one line that starts
 * with the path. A value left out or null reads as null, or as 0 or false for a number or a flag;
 * so does a number or a flag set blank or to {@code null}, as environment variables can be set
 * so but not unset.
 */
final class ConfigValue {

  private final String path;
  private final Object value;

  /** @param value a {@link ConfigMapping}, a {@code List}, a scalar's text, or null */
  ConfigValue(String path, Object value) {
    this.path = path;
    this.value = value;
  }

  String text() {
    if (value != null && !(value instanceof String)) {
      throw mistake("must be a single value, not " + shape());
    }
    return (String) value;
  }

  int integer() {
    Integer integer = optionalInteger();
    return integer == null ? 0 : integer;
  }

  Integer optionalInteger() {
    String text = unlessBlank();
    try {
      return text == null ? null : Integer.valueOf(text);
    } catch (NumberFormatException e) {
      throw mistake("must be a whole number, not '" + text + "'");
    }
  }

  double decimal() {
    String text = unlessBlank();
    try {
      return text == null ? 0 : Double.parseDouble(text);
    } catch (NumberFormatException e) {
      throw mistake("must be a number, not '" + text + "'");
    }
  }

  /**
   * YAML's words for a flag, in any case: {@code true}, {@code false}, and the older {@code yes},
   * {@code no}, {@code on}, {@code off}.
   */
  boolean flag() {
    String text = unlessBlank();
    return switch (text == null ? "false" : text.toLowerCase(Locale.ROOT)) {
      case "true", "yes", "on" -> true;
      case "false", "no", "off" -> false;
      default -> throw mistake("must be true or false, not '" + text + "'");
    };
  }

  Duration duration() {
    return parsed(Durations::parse);
  }

  ByteSize size() {
    return parsed(ByteSize::parse);
  }

  Path file() {
    return parsed(Path::of);
  }

  URI uri() {
    return parsed(text -> {
      try {
        return new URI(text.trim());
      } catch (URISyntaxException e) {
        // The reason without the input: a URL may hold a password.
        throw new IllegalArgumentException("not a URI: " + e.getReason() + " at index " + e.getIndex());
      }
    });
  }

  /**
   * The text read by a domain parser, or null.
   *
   * @param parser throws {@link IllegalArgumentException} saying what is wrong
   */
  <T> T parsed(Function<String, T> parser) {
    String text = text();
    try {
      return text == null ? null : parser.apply(text);
    } catch (IllegalArgumentException e) {
      throw mistake(e.getMessage());
    }
  }

  /** A list of entries each read by {@code entry}; null when left out. An entry may not be null. */
  <T> List<T> list(Function<ConfigValue, T> entry) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof List<?> entries)) {
      throw mistake("must be a list, not " + shape());
    }
    List<T> list = new ArrayList<>(entries.size());
    for (int i = 0; i < entries.size(); i++) {
      ConfigValue item = new ConfigValue(path + "[" + i + "]", entries.get(i));
      if (item.value == null) {
        throw item.mistake("a list entry may not be null");
      }
      list.add(entry.apply(item));
    }
    return Collections.unmodifiableList(list);
  }

  /**
   * A mapping of {@code keys}, any other being a mistake; null when left out.
   *
   * @param keys the keys the section takes, spelt as the documentation spells them
   */
  ConfigSection section(String... keys) {
    if (value == null) {
      return null;
    }
    if (!(value instanceof ConfigMapping mapping)) {
      throw mistake("must be a mapping of keys, not " + shape());
    }
    return new ConfigSection(path, mapping, List.of(keys));
  }

  ConfigException mistake(String problem) {
    return new ConfigException(name(path) + ": " + problem);
  }

  /** A key path as a mistake names it: the whole configuration's is empty. */
  static String name(String path) {
    return path.isEmpty() ? "the configuration" : path;
  }

  private String unlessBlank() {
    String text = text();
    return text == null || text.isBlank() || text.trim().equals("null") ? null : text.trim();
  }

  private String shape() {
    return value instanceof ConfigMapping ? "a mapping" : value instanceof List ? "a list" : "a single value";
  }
}
