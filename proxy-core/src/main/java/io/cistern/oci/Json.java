package io.cistern.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.ObjectReader;
import java.io.IOException;

/**
 * Cistern's one JSON mapper, and the few ways its code reads and writes JSON. An
 * {@link ObjectMapper} is costly to build and thread-safe once configured, so every part shares
 * this one; it is never handed out, since it could be reconfigured. A part that needs other
 * settings derives them from {@link #reader()}, whose variants are immutable.
 */
public final class Json {

  private static final ObjectMapper MAPPER = new ObjectMapper();

  private Json() {}

  /** A reader to derive from: {@code reader().forType(…)}, {@code reader().without(…)}. */
  public static ObjectReader reader() {
    return MAPPER.reader();
  }

  /**
   * {@code value} as compact JSON.
   *
   * @throws IllegalArgumentException when Jackson cannot write it: a programming error, as
   *     everything Cistern writes is maps, lists, strings, numbers and records of them
   */
  public static byte[] bytes(Object value) {
    try {
      return MAPPER.writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw unwritable(value, e);
    }
  }

  /** As {@link #bytes}, as a string. */
  public static String string(Object value) {
    try {
      return MAPPER.writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw unwritable(value, e);
    }
  }

  /** As {@link #bytes}, indented for people to read. */
  public static byte[] prettyBytes(Object value) {
    try {
      return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsBytes(value);
    } catch (JsonProcessingException e) {
      throw unwritable(value, e);
    }
  }

  /** As {@link #prettyBytes}, as a string. */
  public static String prettyString(Object value) {
    try {
      return MAPPER.writerWithDefaultPrettyPrinter().writeValueAsString(value);
    } catch (JsonProcessingException e) {
      throw unwritable(value, e);
    }
  }

  /** Parses a document whose shape the caller walks itself. */
  public static JsonNode tree(byte[] json) throws IOException {
    return MAPPER.readTree(json);
  }

  public static <T> T read(byte[] json, Class<T> type) throws IOException {
    return MAPPER.readValue(json, type);
  }

  private static IllegalArgumentException unwritable(Object value, JsonProcessingException e) {
    return new IllegalArgumentException("cannot write " + (value == null ? "null" : value.getClass().getName()) + " as JSON", e);
  }
}
