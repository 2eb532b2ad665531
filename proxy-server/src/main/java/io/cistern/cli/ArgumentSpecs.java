package io.cistern.cli;

import java.util.List;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.Range;

/**
 * The shapes the commands' options and parameters take, built with picocli's programmatic API.
 * Each holds its value once parsed ({@code getValue()}; null, or false for a flag, when not given).
 *
 * <p>Why not picocli's annotations: they are read by reflection on every start, the server's too
 * ({@code serve} is the default command). Measured on the main thread of a fresh JVM, picocli
 * with this model costs about 75 ms of CPU to build and parse; with annotations, about 50 ms more.
 */
final class ArgumentSpecs {

  private ArgumentSpecs() {}

  /** An option without a value: {@code --json}. */
  static OptionSpec flag(String description, String... names) {
    return OptionSpec.builder(names).type(boolean.class).initialValue(false).description(description).build();
  }

  /** An option with one value, given at most once: {@code --out FILE} or {@code --out=FILE}. */
  static OptionSpec option(Class<?> type, String label, String description, String... names) {
    return OptionSpec.builder(names).type(type).paramLabel(label).description(description).build();
  }

  /** An option with one value, given any number of times; its value is the list of them. */
  static OptionSpec repeatable(Class<?> type, String label, String description, String... names) {
    return OptionSpec.builder(names).type(List.class).auxiliaryTypes(type).arity("1").paramLabel(label)
        .description(description).build();
  }

  /** One positional parameter: {@code arity} "1" needs it, "0..1" makes it optional. */
  static PositionalParamSpec parameter(Class<?> type, String label, String arity, String description) {
    return PositionalParamSpec.builder().type(type).paramLabel(label).arity(arity).required(needed(arity))
        .description(description).build();
  }

  /** The rest of the positional parameters, as a list: {@code arity} "1..*" needs at least one. */
  static PositionalParamSpec parameters(Class<?> type, String label, String arity, String description) {
    return PositionalParamSpec.builder().type(List.class).auxiliaryTypes(type).paramLabel(label).arity(arity)
        .required(needed(arity)).description(description).build();
  }

  /** The programmatic API does not derive this from the arity, as the annotations do. */
  private static boolean needed(String arity) {
    return Range.valueOf(arity).min() > 0;
  }

  /** A list option's or parameter's values; none when it was not given. */
  static <T> List<T> values(picocli.CommandLine.Model.ArgSpec spec) {
    List<T> values = spec.getValue();
    return values == null ? List.of() : values;
  }
}
