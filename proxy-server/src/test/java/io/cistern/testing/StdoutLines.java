package io.cistern.testing;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletableFuture;
import java.util.function.Predicate;

/**
 * Watches what this JVM writes to stdout (where the access log goes) while it is open, still
 * passing it on: {@link #first} completes with the first whole line that matches.
 */
public final class StdoutLines implements AutoCloseable {

  private final PrintStream original = System.out;
  private final CompletableFuture<String> match = new CompletableFuture<>();

  private StdoutLines(Predicate<String> wanted) {
    System.setOut(new PrintStream(new Watcher(original, wanted), true, StandardCharsets.UTF_8));
  }

  /** Starts watching for the first line {@code wanted} accepts. */
  public static StdoutLines watch(Predicate<String> wanted) {
    return new StdoutLines(wanted);
  }

  /** The first matching line, once written. */
  public CompletableFuture<String> first() {
    return match;
  }

  @Override
  public void close() {
    System.setOut(original);
  }

  private final class Watcher extends OutputStream {

    private final PrintStream out;
    private final Predicate<String> wanted;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream();

    Watcher(PrintStream out, Predicate<String> wanted) {
      this.out = out;
      this.wanted = wanted;
    }

    @Override
    public synchronized void write(int b) {
      out.write(b);
      if (b != '\n') {
        line.write(b);
        return;
      }
      String text = line.toString(StandardCharsets.UTF_8);
      line.reset();
      if (wanted.test(text)) {
        match.complete(text);
      }
    }

    @Override
    public void flush() {
      out.flush();
    }
  }
}
