package io.cistern.cli;

import io.cistern.ops.BlobProblem;
import io.cistern.ops.JobView;
import io.cistern.ops.Outcome;
import java.util.List;

/**
 * Follows a long command's job (warm, export, import, verify) to its end, showing its progress,
 * then reports its outcome: the images and bytes, or for verify every damaged blob.
 */
final class JobReport {

  private final Session session;

  JobReport(Session session) {
    this.session = session;
  }

  /** @return the exit code: 1 when the job failed, or verify found anything damaged */
  int follow(CacheClient client, long id) throws InterruptedException {
    JobView job = new ProgressDisplay(session.out(), session.terminal()).follow(client, id);
    if (job.error() != null) {
      session.err().println("cistern " + job.kind() + ": " + job.error());
      return 1;
    }
    Outcome outcome = job.outcome();
    if (job.kind().equals("verify")) {
      return reportVerification(outcome, job.progress().elapsedMillis());
    }
    for (String image : outcome.images()) {
      session.out().println("  " + image);
    }
    String verb = switch (job.kind()) {
      case "warm" -> "fetched";
      case "export" -> "written";
      default -> "imported";
    };
    session.out().println(job.kind() + ": " + outcome.images().size() + " images, " + outcome.blobs() + " blobs " + verb
        + " (" + Formats.bytes(outcome.bytes()) + ")"
        + (outcome.skipped() > 0 ? ", " + outcome.skipped() + " already cached" : "")
        + " in " + job.progress().elapsedMillis() / 1000.0 + " s");
    for (String warning : outcome.warnings()) {
      session.err().println("warning: " + warning);
    }
    return 0;
  }

  /** One line per damaged blob, saying what was done and what is left to the operator; exit 1 if any. */
  private int reportVerification(Outcome outcome, long elapsedMillis) {
    List<BlobProblem> problems = outcome.problems();
    session.out().println("verify: " + outcome.blobs() + " blobs and manifests checked (" + Formats.bytes(outcome.bytes())
        + ") in " + elapsedMillis / 1000.0 + " s: " + (problems.isEmpty() ? "nothing is damaged" : problems.size() + " damaged"));
    boolean unrepaired = false;
    for (BlobProblem problem : problems) {
      String done = switch (problem.action()) {
        case "quarantined" -> "moved to " + problem.quarantined() + " and its row dropped";
        case "row-dropped" -> "its row dropped";
        case "replaced" -> "left alone: a whole copy was stored in its place meanwhile";
        case "failed" -> "NOT repaired";
        default -> "not repaired";
      };
      unrepaired |= problem.action().equals("found");
      String next = problem.action().equals("replaced") ? ""
          : problem.onlyCopy() ? "; it was the only copy (pinned, or no online upstream has it): restore it by importing"
              + " a bundle that holds it, or pull it once its upstream is back"
          : problem.action().equals("found") || problem.action().equals("failed") ? ""
          : "; the next pull fetches it again";
      session.out().println("  " + problem.digest() + " " + problem.problem().replace('-', ' ') + " (" + problem.detail()
          + "): " + done + next);
    }
    if (unrepaired) {
      session.err().println("run `cistern verify --repair` to move damaged files to quarantine, so that they are fetched again");
    }
    return problems.isEmpty() ? 0 : 1;
  }
}
