package io.cistern.config;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeMap;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.yaml.snakeyaml.error.YAMLException;

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
 * likely a misspelt key. So are the service links of a Service named after a section
 * ({@code cistern-cluster}: {@code CISTERN_CLUSTER_SERVICE_HOST}, {@code CISTERN_CLUSTER_PORT}),
 * which start like a key but name none.
 *
 * <p>The layers are merged as plain trees ({@link YamlTree}), then read as records by
 * {@link ConfigBinder}, whose mistakes name their key ({@code upstreams[0].connectTimeout: …}).
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

  /** Defaults, overlaid by {@code file} when given, overlaid by the environment. */
  public CisternConfig load(Path file, Map<String, String> environment) {
    ConfigMapping tree = readDefaults();
    if (file != null) {
      Object overlay = readFile(file);
      if (overlay != null) {
        if (!(overlay instanceof ConfigMapping mapping)) {
          throw new ConfigException("the configuration file " + file + " must be a YAML mapping");
        }
        merge(tree, mapping);
      }
    }
    applyEnvironment(tree, environment);
    return ConfigBinder.bind(tree);
  }

  private static Object readFile(Path file) {
    try {
      return YamlTree.read(new ByteArrayInputStream(Files.readAllBytes(file)));
    } catch (IOException | YAMLException e) {
      throw new ConfigException("cannot read the configuration file " + file + ": " + oneLine(e.getMessage()));
    }
  }

  /** SnakeYAML puts the location on lines of its own; an operator's error is one line. */
  private static String oneLine(String message) {
    return message == null ? "" : message.replaceAll("\\s*\\R\\s*", " ").trim();
  }

  private static ConfigMapping readDefaults() {
    try (InputStream defaults = ConfigLoader.class.getResourceAsStream(DEFAULTS_RESOURCE)) {
      if (defaults == null) {
        throw new IllegalStateException(DEFAULTS_RESOURCE + " is missing from the build");
      }
      return (ConfigMapping) YamlTree.read(defaults);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static void merge(ConfigMapping base, ConfigMapping overlay) {
    for (String key : overlay.keys()) {
      Object value = overlay.get(key);
      if (base.get(key) instanceof ConfigMapping current && value instanceof ConfigMapping nested) {
        merge(current, nested);
      } else {
        base.put(key, value);
      }
    }
  }

  private static void applyEnvironment(ConfigMapping tree, Map<String, String> environment) {
    // Sorted, so list entries are created in index order.
    for (Map.Entry<String, String> variable : new TreeMap<>(environment).entrySet()) {
      String name = variable.getKey();
      if (!name.startsWith(ENV_PREFIX) || name.equals(CONFIG_PATH_VARIABLE)) {
        continue;
      }
      String rest = name.substring(ENV_PREFIX.length());
      String[] path = rest.toLowerCase(Locale.ROOT).split("_");
      boolean serviceLink = SERVICE_LINK.matcher(rest).matches();
      if (!tree.has(path[0])) {
        if (!serviceLink) {
          log.warn("ignoring the environment variable {}: {} is not a configuration key", name, path[0]);
        }
        continue;
      }
      if (serviceLink && !names(tree, path)) {
        // A Service named after a section (cistern-cluster: CISTERN_CLUSTER_SERVICE_HOST,
        // CISTERN_CLUSTER_PORT…) gives variables that start like a key and name none.
        continue;
      }
      set(tree, path, variable.getValue(), name);
    }
  }

  private static void set(ConfigMapping root, String[] path, String value, String variable) {
    Object node = root;
    for (int i = 0; i < path.length; i++) {
      boolean last = i == path.length - 1;
      String segment = path[i];
      if (node instanceof ConfigMapping mapping) {
        if (last) {
          mapping.put(segment, value);
          return;
        }
        Object child = mapping.get(segment);
        if (child == null) {
          child = isIndex(path[i + 1]) ? new ArrayList<>() : new ConfigMapping();
          mapping.put(segment, child);
        }
        node = child;
      } else if (node instanceof List<?> list && isIndex(segment)) {
        if (segment.length() > MAX_INDEX_DIGITS) {
          throw new ConfigException("environment variable " + variable + " names a list entry beyond any list Cistern takes");
        }
        int index = Integer.parseInt(segment);
        List<Object> entries = entries(list);
        while (entries.size() <= index) {
          entries.add(new ConfigMapping());
        }
        if (last) {
          entries.set(index, value);
          return;
        }
        node = entries.get(index);
      } else {
        throw new ConfigException("environment variable " + variable + " does not name a configuration key");
      }
    }
  }

  /** Whether {@code path} names a key (or list entry) the tree already has. */
  private static boolean names(ConfigMapping root, String[] path) {
    Object node = root;
    for (String segment : path) {
      if (node instanceof ConfigMapping mapping && mapping.has(segment)) {
        node = mapping.get(segment);
      } else if (node instanceof List<?> list && isIndex(segment) && segment.length() <= MAX_INDEX_DIGITS
          && Integer.parseInt(segment) < list.size()) {
        node = list.get(Integer.parseInt(segment));
      } else {
        return false;
      }
    }
    return true;
  }

  /** The tree's lists are {@link YamlTree}'s and this class's, all of them lists of anything. */
  @SuppressWarnings("unchecked")
  private static List<Object> entries(List<?> list) {
    return (List<Object>) list;
  }

  private static boolean isIndex(String segment) {
    return !segment.isEmpty() && segment.chars().allMatch(Character::isDigit);
  }
}
