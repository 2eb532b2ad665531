package io.cistern.cli;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * One command's arguments: options that take a value ({@code --out FILE} or {@code --out=FILE}),
 * flags, and positional arguments. Anything else starting with {@code -} is a usage error.
 */
final class Arguments {

  /** A mistake on the command line: the command's usage follows the message. */
  static final class UsageException extends RuntimeException {
    UsageException(String message) {
      super(message);
    }
  }

  private final Map<String, List<String>> values = new LinkedHashMap<>();
  private final List<String> flags = new ArrayList<>();
  private final List<String> positional = new ArrayList<>();

  /**
   * @param valued option names that take a value, each with its aliases ({@code --out}, {@code -o})
   * @param flagNames options without a value
   */
  static Arguments parse(List<String> args, Map<String, String> valued, Set<String> flagNames) {
    Arguments parsed = new Arguments();
    for (int i = 0; i < args.size(); i++) {
      String arg = args.get(i);
      if (!arg.startsWith("-") || arg.equals("-")) {
        parsed.positional.add(arg);
        continue;
      }
      String name = arg;
      String value = null;
      int equals = arg.indexOf('=');
      if (arg.startsWith("--") && equals > 0) {
        name = arg.substring(0, equals);
        value = arg.substring(equals + 1);
      }
      if (valued.containsKey(name)) {
        if (value == null) {
          if (i + 1 == args.size()) {
            throw new UsageException(name + " needs a value");
          }
          value = args.get(++i);
        }
        parsed.values.computeIfAbsent(valued.get(name), ignored -> new ArrayList<>()).add(value);
      } else if (flagNames.contains(name) && value == null) {
        parsed.flags.add(name);
      } else {
        throw new UsageException("unknown option " + arg);
      }
    }
    return parsed;
  }

  List<String> values(String option) {
    return values.getOrDefault(option, List.of());
  }

  /** The option's value, or null; a repeated option is a usage error. */
  String value(String option) {
    List<String> given = values(option);
    if (given.size() > 1) {
      throw new UsageException(option + " is given more than once");
    }
    return given.isEmpty() ? null : given.get(0);
  }

  boolean flag(String name) {
    return flags.contains(name);
  }

  List<String> positional() {
    return positional;
  }
}
