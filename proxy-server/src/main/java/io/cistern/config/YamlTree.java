package io.cistern.config;

import java.io.InputStream;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.events.AliasEvent;
import org.yaml.snakeyaml.events.Event;
import org.yaml.snakeyaml.events.ScalarEvent;
import org.yaml.snakeyaml.parser.Parser;
import org.yaml.snakeyaml.parser.ParserImpl;
import org.yaml.snakeyaml.reader.StreamReader;
import org.yaml.snakeyaml.reader.UnicodeReader;

/**
 * Reads the first document of a YAML stream into the plain tree the configuration's layers are
 * merged on: a {@link ConfigMapping} for a mapping, a {@code List} for a sequence, a scalar's text
 * as written, and null for YAML's null ({@code null}, {@code ~} or nothing, unquoted). Scalars
 * stay text until {@link ConfigValue} reads each as its key's type, so a password {@code 0123} or
 * a host {@code 1.10} is not taken for a number on the way.
 *
 * <p>It takes SnakeYAML's event parser and nothing above it: a start that reads its configuration
 * this way loads no object mapper (Jackson's databind is some 500 classes, each resident in every
 * idle process) and never builds objects from YAML tags.
 */
final class YamlTree {

  /** The plain scalars YAML reads as null; quoted, they are text. */
  private static final Set<String> NULLS = Set.of("", "~", "null", "Null", "NULL");

  private final Parser parser;

  private YamlTree(InputStream yaml) {
    this.parser = new ParserImpl(new StreamReader(new UnicodeReader(yaml)), new LoaderOptions());
  }

  /**
   * The stream's first document; null when it has none or it is null.
   *
   * @throws YAMLException when it is not YAML, or uses what the configuration does not (anchors
   *     and aliases, keys that are not scalars)
   */
  static Object read(InputStream yaml) {
    YamlTree tree = new YamlTree(yaml);
    tree.parser.getEvent(); // the stream's start
    if (!tree.parser.checkEvent(Event.ID.DocumentStart)) {
      return null;
    }
    tree.parser.getEvent();
    return tree.node(); // what follows, further documents included, is not read
  }

  private Object node() {
    Event event = parser.getEvent();
    return switch (event.getEventId()) {
      case Scalar -> scalar((ScalarEvent) event);
      case MappingStart -> mapping();
      case SequenceStart -> sequence();
      case Alias -> throw new YAMLException("anchors and aliases are not supported: *" + ((AliasEvent) event).getAnchor()
          + at(event));
      default -> throw new YAMLException("unexpected " + event.getEventId() + at(event));
    };
  }

  private ConfigMapping mapping() {
    ConfigMapping mapping = new ConfigMapping();
    while (!parser.checkEvent(Event.ID.MappingEnd)) {
      Event key = parser.getEvent();
      if (!(key instanceof ScalarEvent scalarKey)) {
        throw new YAMLException("a key must be a single value" + at(key));
      }
      mapping.put(scalarKey.getValue(), node());
    }
    parser.getEvent();
    return mapping;
  }

  private List<Object> sequence() {
    List<Object> sequence = new ArrayList<>();
    while (!parser.checkEvent(Event.ID.SequenceEnd)) {
      sequence.add(node());
    }
    parser.getEvent();
    return sequence;
  }

  private static String at(Event event) {
    return " at line " + (event.getStartMark().getLine() + 1);
  }

  private static String scalar(ScalarEvent scalar) {
    // canOmitTagInPlainScalar: plain and untagged, so "null" quoted or tagged !!str stays text.
    boolean isNull = scalar.getImplicit().canOmitTagInPlainScalar() && NULLS.contains(scalar.getValue());
    return isNull ? null : scalar.getValue();
  }
}
