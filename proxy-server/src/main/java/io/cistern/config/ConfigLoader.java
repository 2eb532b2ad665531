package io.cistern.config;

import com.fasterxml.jackson.core.JsonParser;
import com.fasterxml.jackson.databind.DeserializationContext;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JsonDeserializer;
import com.fasterxml.jackson.databind.JsonMappingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MapperFeature;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.json.JsonMapper;
import com.fasterxml.jackson.databind.module.SimpleModule;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import com.fasterxml.jackson.databind.node.TextNode;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import io.cistern.upstream.RepositoryGlob;
import io.cistern.upstream.TagRevalidation;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads the configuration in three layers: the embedded defaults, then the YAML file (objects
 * merge key by key; lists replace), then {@code CISTERN_*} environment variables, where
 * {@code _} walks the tree and numbers index lists: {@code CISTERN_SERVER_PORT=5001},
 * {@code CISTERN_CACHE_MAXBYTES=10GiB}, {@code CISTERN_UPSTREAMS_0_URL=http://…}.
 *
 * <p>A variable applies only when its first segment names a top-level key of the defaults, which
 * list them all. Others are not Cistern's to refuse: Kubernetes gives every pod
 * {@code CISTERN_SERVICE_HOST}, {@code CISTERN_PORT_5000_TCP}… for a Service named
 * {@code cistern}. Those are ignored silently; any other is ignored with a warning, as it is most
 * likely a misspelt key.
 */
public final class ConfigLoader {

  private static final Logger log = LoggerFactory.getLogger(ConfigLoader.class);

  static final String DEFAULTS_RESOURCE = "/cistern-defaults.yaml";
  private static final String ENV_PREFIX = "CISTERN_";
  /** Names the config file itself, so it is not an override. */
  public static final String CONFIG_PATH_VARIABLE = "CISTERN_CONFIG";
  /** Lists (upstreams) are short: an index of more digits is a mistake, not a list to pad out. */
  private static final int MAX_INDEX_DIGITS = 3;
  /**
   * What Kubernetes service links look like after the service's name: {@code SERVICE_HOST},
   * {@code SERVICE_PORT[_<port name>]}, {@code PORT}, {@code PORT_<n>_<protocol>[_PROTO|_PORT|_ADDR]}.
   */
  private static final Pattern SERVICE_LINK =
      Pattern.compile("(.+_)?(SERVICE_HOST|SERVICE_PORT(_.+)?|PORT|PORT_\\d+_(TCP|UDP|SCTP)(_(PROTO|PORT|ADDR))?)");

  private final ObjectMapper yaml;

  public ConfigLoader() {
    SimpleModule humanUnits = new SimpleModule("cistern-units")
        .addDeserializer(Duration.class, new TextDeserializer<>(Durations::parse))
        .addDeserializer(ByteSize.class, new TextDeserializer<>(ByteSize::parse))
        .addDeserializer(TagRevalidation.class, new TextDeserializer<>(TagRevalidation::parse))
        .addDeserializer(RepositoryGlob.class, new TextDeserializer<>(RepositoryGlob::parse));
    this.yaml = JsonMapper.builder(new YAMLFactory())
        .addModule(humanUnits)
        .enable(MapperFeature.ACCEPT_CASE_INSENSITIVE_PROPERTIES)
        .enable(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES)
        .build();
  }

  /** Defaults, overlaid by {@code file} when given, overlaid by the environment. */
  public CisternConfig load(Path file, Map<String, String> environment) {
    ObjectNode tree = readDefaults();
    if (file != null) {
      try {
        JsonNode overlay = yaml.readTree(Files.readAllBytes(file));
        if (overlay != null && !overlay.isMissingNode() && !overlay.isNull()) {
          if (!overlay.isObject()) {
            throw new ConfigException("the configuration file " + file + " must be a YAML mapping");
          }
          merge(tree, (ObjectNode) overlay);
        }
      } catch (IOException e) {
        throw new ConfigException("cannot read the configuration file " + file + ": " + oneLine(e.getMessage()));
      }
    }
    applyEnvironment(tree, environment);
    try {
      return yaml.treeToValue(tree, CisternConfig.class);
    } catch (JsonMappingException e) {
      throw new ConfigException(key(e) + ": " + oneLine(e.getOriginalMessage()));
    } catch (IOException | IllegalArgumentException e) {
      throw new ConfigException("invalid configuration: " + oneLine(e.getMessage()));
    }
  }

  /** The key a binding failure is at, as people write it: {@code upstreams[1].tagTtl}. */
  private static String key(JsonMappingException failure) {
    StringBuilder key = new StringBuilder();
    for (JsonMappingException.Reference step : failure.getPath()) {
      if (step.getFieldName() != null) {
        key.append(key.length() > 0 ? "." : "").append(step.getFieldName());
      } else if (step.getIndex() >= 0) {
        key.append('[').append(step.getIndex()).append(']');
      }
    }
    return key.length() > 0 ? key.toString() : "the configuration";
  }

  /** Jackson puts the location on lines of its own; an operator's error is one line. */
  private static String oneLine(String message) {
    return message == null ? "" : message.replaceAll("\\s*\\R\\s*", " ").trim();
  }

  private ObjectNode readDefaults() {
    try (InputStream defaults = ConfigLoader.class.getResourceAsStream(DEFAULTS_RESOURCE)) {
      if (defaults == null) {
        throw new IllegalStateException(DEFAULTS_RESOURCE + " is missing from the build");
      }
      return (ObjectNode) yaml.readTree(defaults);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void merge(ObjectNode base, ObjectNode overlay) {
    Iterator<Map.Entry<String, JsonNode>> fields = overlay.fields();
    while (fields.hasNext()) {
      Map.Entry<String, JsonNode> field = fields.next();
      String key = existingKey(base, field.getKey());
      JsonNode current = base.get(key);
      if (current instanceof ObjectNode currentObject && field.getValue() instanceof ObjectNode overlayObject) {
        merge(currentObject, overlayObject);
      } else {
        base.set(key, field.getValue());
      }
    }
  }

  private static void applyEnvironment(ObjectNode tree, Map<String, String> environment) {
    // Sorted, so list entries are created in index order.
    for (Map.Entry<String, String> variable : new TreeMap<>(environment).entrySet()) {
      String name = variable.getKey();
      if (!name.startsWith(ENV_PREFIX) || name.equals(CONFIG_PATH_VARIABLE)) {
        continue;
      }
      String rest = name.substring(ENV_PREFIX.length());
      String[] path = rest.toLowerCase(Locale.ROOT).split("_");
      if (!tree.has(existingKey(tree, path[0]))) {
        if (!SERVICE_LINK.matcher(rest).matches()) {
          log.warn("ignoring the environment variable {}: {} is not a configuration key", name, path[0]);
        }
        continue;
      }
      set(tree, path, variable.getValue(), name);
    }
  }

  private static void set(JsonNode root, String[] path, String value, String variable) {
    JsonNode node = root;
    for (int i = 0; i < path.length; i++) {
      boolean last = i == path.length - 1;
      String segment = path[i];
      if (node instanceof ObjectNode object) {
        String key = existingKey(object, segment);
        if (last) {
          object.set(key, TextNode.valueOf(value));
          return;
        }
        JsonNode child = object.get(key);
        if (child == null || child.isNull()) {
          child = isIndex(path[i + 1]) ? object.putArray(key) : object.putObject(key);
        }
        node = child;
      } else if (node instanceof ArrayNode array && isIndex(segment)) {
        if (segment.length() > MAX_INDEX_DIGITS) {
          throw new ConfigException("environment variable " + variable + " names a list entry beyond any list Cistern takes");
        }
        int index = Integer.parseInt(segment);
        while (array.size() <= index) {
          array.addObject();
        }
        if (last) {
          array.set(index, TextNode.valueOf(value));
          return;
        }
        node = array.get(index);
      } else {
        throw new ConfigException("environment variable " + variable + " does not name a configuration key");
      }
    }
  }

  private static String existingKey(ObjectNode object, String name) {
    Iterator<String> names = object.fieldNames();
    while (names.hasNext()) {
      String candidate = names.next();
      if (candidate.equalsIgnoreCase(name)) {
        return candidate;
      }
    }
    return name;
  }

  private static boolean isIndex(String segment) {
    return !segment.isEmpty() && segment.chars().allMatch(Character::isDigit);
  }

  /** Parses scalar YAML text with a domain parser, reporting its message on failure. */
  private static final class TextDeserializer<T> extends JsonDeserializer<T> {
    private final java.util.function.Function<String, T> parser;

    TextDeserializer(java.util.function.Function<String, T> parser) {
      this.parser = parser;
    }

    @Override
    public T deserialize(JsonParser parser, DeserializationContext context) throws IOException {
      String text = parser.getValueAsString();
      try {
        return this.parser.apply(text);
      } catch (IllegalArgumentException e) {
        return context.reportInputMismatch(this, e.getMessage());
      }
    }
  }

}
