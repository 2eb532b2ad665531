package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.IntStream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

class BatchingLineWriterTest {

  @Test
  void everyLineQueuedIsWrittenInOrderByClose() {
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    BatchingLineWriter<Integer> writer = new BatchingLineWriter<>("test-writer", 20_000, (i, line) -> line.append("line ").append(i),
        drops -> "dropped " + drops, sink);
    for (int i = 0; i < 20_000; i++) {
      writer.add(i);
    }
    writer.close();
    String expected = IntStream.range(0, 20_000).mapToObj(i -> "line " + i + "\n").collect(Collectors.joining());
    assertEquals(expected, sink.toString(StandardCharsets.UTF_8));
    assertEquals(0, writer.dropped());
  }

  @Test
  void linesBeyondAsciiAndLinesLongerThanABatchAreWrittenAsUtf8() {
    ByteArrayOutputStream sink = new ByteArrayOutputStream();
    String longLine = "x".repeat(100_000);
    List<String> lines = List.of("plain", "caf\u00e9 \u4e2d", longLine, "plain again", longLine + "\u00e9");
    BatchingLineWriter<String> writer = new BatchingLineWriter<>("test-writer", 100, (text, line) -> line.append(text),
        drops -> "dropped " + drops, sink);
    lines.forEach(writer::add);
    writer.close();
    assertEquals(String.join("\n", lines) + "\n", sink.toString(StandardCharsets.UTF_8));
  }

  @Test
  void linesQueuedWhileTheSinkIsBusyGoOutInOneWrite() throws Exception {
    HeldSink sink = new HeldSink();
    BatchingLineWriter<Integer> writer = new BatchingLineWriter<>("test-writer", 1000, (i, line) -> line.append("line ").append(i),
        drops -> "dropped " + drops, sink);
    writer.add(0);
    sink.awaitFirstWrite();
    for (int i = 1; i <= 100; i++) {
      writer.add(i);
    }
    sink.release();
    writer.close();
    assertEquals(List.of("line 0\n",
        IntStream.rangeClosed(1, 100).mapToObj(i -> "line " + i + "\n").collect(Collectors.joining())), sink.writes);
  }

  @Test
  void aFullQueueDropsNewLinesCountsThemAndTheLogSaysHowMany() throws Exception {
    HeldSink sink = new HeldSink();
    BatchingLineWriter<Integer> writer = new BatchingLineWriter<>("test-writer", 4, (i, line) -> line.append("line ").append(i),
        drops -> "dropped " + drops, sink);
    writer.add(0);
    sink.awaitFirstWrite();
    for (int i = 1; i <= 7; i++) {
      writer.add(i); // 1 to 4 fill the queue; 5, 6 and 7 find it full
    }
    assertEquals(3, writer.dropped());
    sink.release();
    writer.close();
    assertEquals(List.of("line 0\n", "dropped 3\nline 1\nline 2\nline 3\nline 4\n"), sink.writes);
  }

  @Test
  @Timeout(60)
  void aSinkThatTakesNothingDoesNotHoldUpClose() throws Exception {
    CountDownLatch entered = new CountDownLatch(1);
    CountDownLatch released = new CountDownLatch(1);
    // Like stdout that nobody reads: a write that blocks, and that an interrupt does not end.
    OutputStream stuck = new OutputStream() {
      @Override
      public void write(int b) {
        write(new byte[] {(byte) b}, 0, 1);
      }

      @Override
      public void write(byte[] bytes, int offset, int length) {
        entered.countDown();
        boolean interrupted = false;
        while (true) {
          try {
            released.await();
            break;
          } catch (InterruptedException e) {
            interrupted = true;
          }
        }
        if (interrupted) {
          Thread.currentThread().interrupt();
        }
      }
    };
    BatchingLineWriter<Integer> writer = new BatchingLineWriter<>("test-writer", 10, (i, line) -> line.append("line ").append(i),
        drops -> "dropped " + drops, stuck);
    writer.add(0);
    assertTrue(entered.await(30, TimeUnit.SECONDS));
    writer.add(1);
    writer.close(); // returns after its bounded wait, line 1 unwritten
    assertEquals(1, released.getCount(), "close returned while the sink was still stuck");
    released.countDown();
  }

  /** A sink whose first write waits until the test lets it go: the writer is busy meanwhile. */
  private static final class HeldSink extends OutputStream {

    final List<String> writes = new ArrayList<>();
    private final CountDownLatch entered = new CountDownLatch(1);
    private final CountDownLatch released = new CountDownLatch(1);

    @Override
    public void write(byte[] bytes, int offset, int length) {
      entered.countDown();
      try {
        released.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
      synchronized (writes) {
        writes.add(new String(bytes, offset, length, StandardCharsets.UTF_8));
      }
    }

    @Override
    public void write(int b) {
      throw new UnsupportedOperationException("lines are written in batches");
    }

    void awaitFirstWrite() throws InterruptedException {
      if (!entered.await(30, TimeUnit.SECONDS)) {
        throw new AssertionError("the writer never wrote");
      }
    }

    void release() {
      released.countDown();
    }
  }
}
