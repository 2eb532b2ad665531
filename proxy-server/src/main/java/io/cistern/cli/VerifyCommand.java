package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.flag;

import picocli.CommandLine.Model.OptionSpec;

/** {@code cistern verify}: re-hashes everything cached, and with {@code --repair} sets damaged files aside. */
final class VerifyCommand extends CacheCommand {

  private final OptionSpec repair = flag("moves each damaged file to <cache.directory>/quarantine/ and drops its row,"
      + " so that the next pull fetches it again; Cistern never deletes a quarantined file", "--repair");

  VerifyCommand(Session session) {
    super(session, "verify",
        "Re-hashes the cache; --repair sets damaged files aside.",
        "Reads back every cached blob and manifest and checks its size and digest against what was verified when it"
            + " was stored; reports each one that is damaged (wrong size, wrong digest, a row without its file,"
            + " unreadable). A blob of a pinned image, or one no online upstream can give again, was the only copy:"
            + " it is named, to be restored from a bundle. Exits 1 when anything was found damaged, repaired or not."
            + " Pulls go on meanwhile.");
    spec().addOption(repair);
  }

  @Override
  Work work() {
    boolean repairing = repair.getValue();
    return client -> new JobReport(session).follow(client, client.verify(repairing));
  }
}
