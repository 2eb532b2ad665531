package io.cistern.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.ops.ImageView;
import io.cistern.ops.JobView;
import io.cistern.ops.Outcome;
import io.cistern.ops.PinView;
import io.cistern.ops.ProgressView;
import io.cistern.ops.PurgeView;
import io.cistern.ops.StatsView;
import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.Deque;
import java.util.List;
import org.junit.jupiter.api.Test;

/** The progress display: one line redrawn in place on a terminal, plain lines elsewhere. */
class ProgressDisplayTest {

  private static final List<JobView> STEPS = List.of(
      running("resolving", 0, 0, 0, 0),
      running("downloading", 0, 3, 0, 3 << 20),
      running("downloading", 0, 3, 1 << 19, 3 << 20),
      running("downloading", 1, 3, 1 << 20, 3 << 20),
      running("downloading", 2, 3, 2 << 20, 3 << 20),
      new JobView(1, "warm", "done", new ProgressView("done", 3, 3, 3 << 20, 3 << 20, 2000),
          new Outcome(List.of("a"), 3, 3 << 20, 0, List.of()), null));

  private static JobView running(String phase, long items, long itemsTotal, long bytes, long bytesTotal) {
    return new JobView(1, "warm", "running", new ProgressView(phase, items, itemsTotal, bytes, bytesTotal, 1000), null, null);
  }

  @Test
  void onATerminalOneLineIsRedrawnWithBlobsBytesAndRate() throws Exception {
    String shown = follow(true);
    assertEquals(STEPS.size(), shown.chars().filter(c -> c == '\r').count(), "each look redraws the line");
    assertEquals(1, shown.chars().filter(c -> c == '\n').count(), "and the line ends once, when the job does");
    assertTrue(shown.contains("warm: downloading, 1/3 blobs, 1.0 MiB of 3.0 MiB, 1.0 MiB/s"), shown);
    String last = shown.substring(shown.lastIndexOf('\r') + 1);
    assertTrue(last.startsWith("warm: done, 3/3 blobs, 3.0 MiB of 3.0 MiB, 1.5 MiB/s"), shown);
    assertTrue(last.endsWith("\n") && last.strip().length() < last.length() - 1,
        "the last line is padded to blank out the longer one before it");
  }

  @Test
  void elsewherePlainLinesComeOnlyWhenABlobFinishesOrThePhaseChanges() throws Exception {
    String shown = follow(false);
    assertFalse(shown.contains("\r"));
    assertEquals(List.of(
        "warm: resolving, 0 B/s",
        "warm: downloading, 0/3 blobs, 0 B of 3.0 MiB, 0 B/s",
        "warm: downloading, 1/3 blobs, 1.0 MiB of 3.0 MiB, 1.0 MiB/s",
        "warm: downloading, 2/3 blobs, 2.0 MiB of 3.0 MiB, 2.0 MiB/s",
        "warm: done, 3/3 blobs, 3.0 MiB of 3.0 MiB, 1.5 MiB/s"), shown.lines().toList(),
        "a byte count moving inside one blob prints nothing");
  }

  private static String follow(boolean terminal) throws InterruptedException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
    JobView last = new ProgressDisplay(out, terminal, Duration.ZERO).follow(new ScriptedJob(STEPS), 1);
    assertEquals("done", last.state());
    return bytes.toString(StandardCharsets.UTF_8);
  }

  /** A job that moves one step each time it is looked at. */
  private static final class ScriptedJob implements CacheClient {
    private final Deque<JobView> steps;

    ScriptedJob(List<JobView> steps) {
      this.steps = new ArrayDeque<>(steps);
    }

    @Override
    public JobView job(long id) {
      return steps.size() > 1 ? steps.poll() : steps.peek();
    }

    @Override
    public String description() {
      return "a script";
    }

    @Override
    public List<ImageView> images(String repository, int limit) {
      throw new UnsupportedOperationException();
    }

    @Override
    public StatsView stats() {
      throw new UnsupportedOperationException();
    }

    @Override
    public PinView pin(String image) {
      throw new UnsupportedOperationException();
    }

    @Override
    public PinView unpin(String image) {
      throw new UnsupportedOperationException();
    }

    @Override
    public PurgeView purge(String image) {
      throw new UnsupportedOperationException();
    }

    @Override
    public PurgeView purgeOlderThan(String age) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long warm(List<String> images, List<String> platforms) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long export(Path out, List<String> images) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long importBundle(Path file, boolean pin) {
      throw new UnsupportedOperationException();
    }

    @Override
    public long verify(boolean repair) {
      throw new UnsupportedOperationException();
    }

    @Override
    public void close() {}
  }
}
