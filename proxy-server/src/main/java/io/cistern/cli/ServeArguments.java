package io.cistern.cli;

import java.nio.file.Path;
import java.util.Optional;

/**
 * A command line that only starts the server, read without picocli: none, {@code serve}, and at
 * most {@code --config FILE} ({@code -c FILE}, {@code --config=FILE}; the last one applies), in
 * any order. Building picocli's model of every command costs a server's start about 150 classes
 * (and the memory they stay resident in) for a line that names nothing else. Anything else, help
 * and mistakes included, is left to picocli ({@link Cli}), which reads these lines the same way.
 *
 * @param configFile the configuration file named, or null
 */
record ServeArguments(Path configFile) {

  /** The server's arguments, or empty when {@code args} is not such a line. */
  static Optional<ServeArguments> of(String[] args) {
    Path configFile = null;
    boolean serve = false;
    for (int i = 0; i < args.length; i++) {
      String argument = args[i];
      String value;
      if (argument.equals("serve") && !serve) {
        serve = true;
        continue;
      } else if (argument.equals("--config") || argument.equals("-c")) {
        value = ++i < args.length ? args[i] : null;
      } else if (argument.startsWith("--config=")) {
        value = argument.substring("--config=".length());
      } else {
        return Optional.empty();
      }
      // picocli refuses a value that looks like an option or names a command: its message, not ours.
      if (value == null || value.isEmpty() || value.startsWith("-") || value.equals("serve") || value.indexOf('\0') >= 0) {
        return Optional.empty();
      }
      configFile = Path.of(value);
    }
    return Optional.of(new ServeArguments(configFile));
  }
}
