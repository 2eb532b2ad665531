package io.cistern.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Model.OptionSpec;
import picocli.CommandLine.ParseResult;

/** The server's command lines read without picocli are read as picocli reads them; all others are left to it. */
class ServeArgumentsTest {

  @Test
  void aPlainServersLineIsReadAsPicocliReadsIt() {
    for (List<String> line : List.<List<String>>of(List.of(), List.of("serve"), List.of("--config", "a.yml"), List.of("-c", "a.yml"),
        List.of("--config=a.yml"), List.of("serve", "--config", "/etc/cistern/cistern.yml"),
        List.of("--config", "a.yml", "serve"), List.of("serve", "-c", "a.yml", "--config=b.yml"))) {
      String[] args = line.toArray(String[]::new);
      OptionSpec configFile = Cli.configFileOption();
      ParseResult parsed = Cli.commandLine(new Session(System.out, System.err, Map.of(), Clock.systemUTC(), false, false,
          configFile::getValue), configFile).parseArgs(args);
      CommandLine command = parsed.subcommand() != null ? parsed.subcommand().commandSpec().commandLine()
          : parsed.commandSpec().commandLine();
      assertTrue(List.of("cistern", "serve").contains(command.getCommandName()), line::toString);
      Path picocliReads = configFile.getValue();
      assertEquals(picocliReads, ServeArguments.of(args).orElseThrow(() -> new AssertionError(line)).configFile(),
          line::toString);
    }
  }

  @Test
  void everyOtherLineIsLeftToPicocli() {
    for (List<String> line : List.<List<String>>of(List.of("--help"), List.of("serve", "--help"), List.of("-V"), List.of("ls"),
        List.of("serve", "serve"), List.of("--config"), List.of("--config", "--help"), List.of("--config="),
        List.of("--config", "serve"), List.of("-ca.yml"), List.of("--", "serve"), List.of("serve", "extra"),
        List.of("--confg", "a.yml"))) {
      assertTrue(ServeArguments.of(line.toArray(String[]::new)).isEmpty(), line::toString);
    }
  }
}
