package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.parameter;

import java.util.concurrent.Callable;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Model.PositionalParamSpec;
import picocli.CommandLine.ParameterException;

/** {@code cistern help [COMMAND]}: the same help as {@code cistern [COMMAND] --help}. */
final class HelpCommand implements Callable<Integer> {

  private final PositionalParamSpec command = parameter(String.class, "COMMAND", "0..1", "the command to describe");
  private final CommandSpec spec;

  HelpCommand() {
    this.spec = CommandSpec.wrapWithoutInspection(this).name("help").helpCommand(true);
    spec.usageMessage().description("Describes cistern, or one of its commands.");
    spec.addPositional(command);
  }

  CommandSpec spec() {
    return spec;
  }

  @Override
  public Integer call() {
    CommandLine cistern = spec.parent().commandLine();
    String name = command.getValue();
    CommandLine described = name == null ? cistern : cistern.getSubcommands().get(name);
    if (described == null) {
      throw new ParameterException(spec.commandLine(), "unknown command '" + name + "'");
    }
    described.usage(described.getOut(), described.getColorScheme());
    return 0;
  }
}
