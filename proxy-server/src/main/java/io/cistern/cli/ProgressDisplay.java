package io.cistern.cli;

import io.cistern.ops.JobView;
import io.cistern.ops.ProgressView;
import java.io.PrintStream;
import java.time.Duration;

/**
 * Follows a job until it ends. On a terminal one line is redrawn in place (phase, items, bytes,
 * rate); elsewhere (a log, a pipe, CI) a plain line is printed whenever an item finishes or the
 * phase changes, so the output stays readable and bounded.
 */
final class ProgressDisplay {

  private static final Duration TERMINAL_REFRESH = Duration.ofMillis(200);
  private static final Duration PLAIN_POLL = Duration.ofMillis(500);

  private final PrintStream out;
  private final boolean terminal;
  private final Duration pause;

  ProgressDisplay(PrintStream out, boolean terminal) {
    this(out, terminal, terminal ? TERMINAL_REFRESH : PLAIN_POLL);
  }

  /** @param pause between two looks at the job */
  ProgressDisplay(PrintStream out, boolean terminal, Duration pause) {
    this.out = out;
    this.terminal = terminal;
    this.pause = pause;
  }

  /** Polls the job and shows its progress; returns it once finished. */
  JobView follow(CacheClient client, long id) throws InterruptedException {
    String lastPlain = null;
    int drawn = 0;
    while (true) {
      JobView job = client.job(id);
      String line = line(job.kind(), job.progress());
      if (terminal) {
        out.print("\r" + line + " ".repeat(Math.max(0, drawn - line.length())));
        drawn = line.length();
      } else {
        String key = job.progress().phase() + " " + job.progress().itemsDone() + "/" + job.progress().itemsTotal();
        if (!key.equals(lastPlain)) {
          out.println(line);
          lastPlain = key;
        }
      }
      out.flush();
      if (job.finished()) {
        if (terminal) {
          out.println();
        }
        return job;
      }
      // Polling an operator's command: nothing here is waiting for a condition a test relies on.
      Thread.sleep(pause.toMillis());
    }
  }

  static String line(String kind, ProgressView progress) {
    StringBuilder line = new StringBuilder(kind).append(": ").append(progress.phase());
    if (progress.itemsTotal() > 0) {
      line.append(", ").append(progress.itemsDone()).append("/").append(progress.itemsTotal()).append(" blobs");
    }
    if (progress.bytesTotal() > 0) {
      line.append(", ").append(Formats.bytes(progress.bytesDone())).append(" of ").append(Formats.bytes(progress.bytesTotal()));
    }
    line.append(", ").append(Formats.rate(progress.bytesPerSecond()));
    return line.toString();
  }
}
