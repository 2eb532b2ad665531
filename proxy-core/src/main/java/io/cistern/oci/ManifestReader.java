package io.cistern.oci;

import com.fasterxml.jackson.core.JsonParseException;
import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.core.JsonToken;
import java.io.IOException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Reads a {@link ManifestDocument} with the streaming parser, accepting what data binding accepted
 * when it read the annotated records: unknown fields skipped, the last of duplicate fields kept,
 * {@code null} for an absent value, scalars as strings, integral numbers written as {@code 12.0}
 * or {@code "12"}; nothing is read after the document's closing brace. It refuses what is not
 * such a document, and, unlike data binding, a number with a fraction or a numeric field holding
 * {@code ""} or {@code "null"} (read as 0 before: a size no blob has), and a document that is
 * {@code null} (read as no document before, which its callers did not expect).
 * One reader per document.
 */
final class ManifestReader {

  private final JsonParser parser;

  private ManifestReader(JsonParser parser) {
    this.parser = parser;
  }

  /** The document in {@code json}; an {@link IOException} for anything that is not one. */
  static ManifestDocument read(byte[] json) throws IOException {
    try (JsonParser parser = StreamingJson.parser(json)) {
      parser.nextToken();
      ManifestReader reader = new ManifestReader(parser);
      if (parser.currentToken() != JsonToken.START_OBJECT) {
        throw reader.refused("a manifest is a JSON object");
      }
      return reader.document();
    }
  }

  private ManifestDocument document() throws IOException {
    int schemaVersion = 0;
    String mediaType = null;
    String artifactType = null;
    Descriptor config = null;
    List<Descriptor> layers = null;
    List<Descriptor> manifests = null;
    Descriptor subject = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      parser.nextToken();
      switch (field) {
        case "schemaVersion" -> schemaVersion = intNumber();
        case "mediaType" -> mediaType = text();
        case "artifactType" -> artifactType = text();
        case "config" -> config = descriptor();
        case "layers" -> layers = descriptors();
        case "manifests" -> manifests = descriptors();
        case "subject" -> subject = descriptor();
        default -> parser.skipChildren();
      }
    }
    return new ManifestDocument(schemaVersion, mediaType, artifactType, config, layers, manifests, subject);
  }

  private List<Descriptor> descriptors() throws IOException {
    if (parser.currentToken() == JsonToken.VALUE_NULL) {
      return null;
    }
    expect(JsonToken.START_ARRAY, "a list of descriptors");
    List<Descriptor> descriptors = new ArrayList<>();
    while (parser.nextToken() != JsonToken.END_ARRAY) {
      Descriptor descriptor = descriptor();
      if (descriptor == null) {
        throw refused("a list of descriptors holds no null");
      }
      descriptors.add(descriptor);
    }
    return descriptors;
  }

  private Descriptor descriptor() throws IOException {
    if (parser.currentToken() == JsonToken.VALUE_NULL) {
      return null;
    }
    expect(JsonToken.START_OBJECT, "a descriptor");
    String mediaType = null;
    String digest = null;
    long size = 0;
    Platform platform = null;
    String artifactType = null;
    Map<String, String> annotations = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      parser.nextToken();
      switch (field) {
        case "mediaType" -> mediaType = text();
        case "digest" -> digest = text();
        case "size" -> size = number();
        case "platform" -> platform = platform();
        case "artifactType" -> artifactType = text();
        case "annotations" -> annotations = annotations();
        default -> parser.skipChildren();
      }
    }
    return new Descriptor(mediaType, digest, size, platform, artifactType, annotations);
  }

  private Platform platform() throws IOException {
    if (parser.currentToken() == JsonToken.VALUE_NULL) {
      return null;
    }
    expect(JsonToken.START_OBJECT, "a platform");
    String os = null;
    String architecture = null;
    String variant = null;
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String field = parser.currentName();
      parser.nextToken();
      switch (field) {
        case "os" -> os = text();
        case "architecture" -> architecture = text();
        case "variant" -> variant = text();
        default -> parser.skipChildren();
      }
    }
    return new Platform(os, architecture, variant);
  }

  private Map<String, String> annotations() throws IOException {
    if (parser.currentToken() == JsonToken.VALUE_NULL) {
      return null;
    }
    expect(JsonToken.START_OBJECT, "annotations");
    Map<String, String> annotations = new LinkedHashMap<>();
    while (parser.nextToken() == JsonToken.FIELD_NAME) {
      String key = parser.currentName();
      parser.nextToken();
      annotations.put(key, text());
    }
    return annotations;
  }

  /** A string, or a number or boolean as written; null for {@code null}. */
  private String text() throws IOException {
    return switch (parser.currentToken()) {
      case VALUE_STRING, VALUE_NUMBER_INT, VALUE_NUMBER_FLOAT, VALUE_TRUE, VALUE_FALSE -> parser.getText();
      case VALUE_NULL -> null;
      default -> throw refused("a string");
    };
  }

  /** An integer, written as a number or a string; 0 for {@code null}. */
  private long number() throws IOException {
    try {
      return switch (parser.currentToken()) {
        case VALUE_NUMBER_INT -> parser.getLongValue();
        case VALUE_NUMBER_FLOAT -> parser.getDecimalValue().longValueExact();
        case VALUE_STRING -> Long.parseLong(parser.getText().trim());
        case VALUE_NULL -> 0;
        default -> throw refused("an integer");
      };
    } catch (ArithmeticException | NumberFormatException e) {
      throw refused("an integer");
    }
  }

  /** As {@link #number}, in an {@code int}. */
  private int intNumber() throws IOException {
    long number = number();
    if (number != (int) number) {
      throw refused("an int");
    }
    return (int) number;
  }

  private void expect(JsonToken token, String what) throws IOException {
    if (parser.currentToken() != token) {
      throw refused(what);
    }
  }

  private JsonParseException refused(String expected) {
    return new JsonParseException(parser, "expected " + expected + ", found " + parser.currentToken());
  }
}
