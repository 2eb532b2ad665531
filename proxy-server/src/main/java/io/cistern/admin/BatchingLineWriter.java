package io.cistern.admin;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BiConsumer;
import java.util.function.LongFunction;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes one line per item on a thread of its own, in batches: callers (the event loops) only put
 * the item in a bounded queue; the writer takes whatever has queued up, formats it and hands it to
 * the sink in one write and one flush per batch (at most every {@code LINGER_NANOS}), so a busy
 * server costs a write per batch rather than a write per line. When the queue is full (the sink
 * or the writer cannot keep up) an item is dropped, never waited for: callers must not block.
 * Drops are counted, and the next batch starts with a line saying how many went missing.
 */
final class BatchingLineWriter<T> implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(BatchingLineWriter.class);

  /** Items per batch at most, and characters per write at most (the sink takes bigger batches in parts). */
  private static final int BATCH_ITEMS = 1024;
  private static final int WRITE_CHARS = 32 * 1024;
  private static final long LINGER_NANOS = TimeUnit.MILLISECONDS.toNanos(5);
  private static final Duration CLOSE_WAIT = Duration.ofSeconds(5);

  private final BlockingQueue<T> queue;
  private final BiConsumer<T, StringBuilder> format;
  private final LongFunction<String> dropNotice;
  private final OutputStream sink;
  private final AtomicLong dropped = new AtomicLong();
  private final Thread writer;
  private long droppedReported;
  /**
   * The batch's bytes when it is all ASCII, as it nearly always is; the writer thread's only, and
   * reused, so a sink must not keep the array it is given. The extra room is for the line that
   * takes a batch past {@code WRITE_CHARS}; a batch longer still goes through a string.
   */
  private final byte[] ascii = new byte[WRITE_CHARS + 4096];
  private volatile boolean closing;

  /**
   * @param capacity items that may wait for the writer before new ones are dropped
   * @param format appends an item's line, without its line break, to the builder it is given
   * @param dropNotice the line that says how many items were dropped since the last such line
   * @param sink where the lines go; written by the writer thread only, and must not keep the arrays it is given
   */
  BatchingLineWriter(String name, int capacity, BiConsumer<T, StringBuilder> format, LongFunction<String> dropNotice,
      OutputStream sink) {
    this.queue = new ArrayBlockingQueue<>(capacity);
    this.format = format;
    this.dropNotice = dropNotice;
    this.sink = sink;
    this.writer = new Thread(this::run, name);
    writer.setDaemon(true);
    writer.start();
  }

  /** Queues an item's line; drops (and counts) it when the queue is full. Never blocks. */
  void add(T item) {
    if (!queue.offer(item)) {
      dropped.incrementAndGet();
    }
  }

  /** Items dropped since the start because the queue was full. */
  long dropped() {
    return dropped.get();
  }

  private void run() {
    List<T> batch = new ArrayList<>(BATCH_ITEMS);
    StringBuilder lines = new StringBuilder(WRITE_CHARS + 1024);
    while (!closing) {
      if (queue.drainTo(batch, BATCH_ITEMS) == 0) {
        try {
          batch.add(queue.take());
        } catch (InterruptedException e) {
          break; // close(): what is still queued is written below
        }
        queue.drainTo(batch, BATCH_ITEMS - 1);
      }
      write(batch, lines);
      batch.clear();
      // Lingers before the next batch, so that under load lines gather while the writer rests: a
      // writer waiting in take() must be woken by the event loop that adds a line (a system call
      // on the loop, per line); a resting one needs no waking. Costs a line at most LINGER of delay.
      LockSupport.parkNanos(LINGER_NANOS);
    }
    while (queue.drainTo(batch, BATCH_ITEMS) > 0) {
      write(batch, lines);
      batch.clear();
    }
    write(batch, lines); // the count of the last drops, if any
  }

  private void write(List<T> batch, StringBuilder lines) {
    long drops = dropped.get();
    if (drops > droppedReported) {
      lines.append(dropNotice.apply(drops - droppedReported)).append('\n');
      droppedReported = drops;
    }
    for (T item : batch) {
      int start = lines.length();
      try {
        format.accept(item, lines);
        lines.append('\n');
      } catch (RuntimeException e) {
        // A formatting bug costs its line, not the writer.
        lines.setLength(start);
        log.warn("cannot format a line", e);
      }
      if (lines.length() >= WRITE_CHARS) {
        flush(lines);
      }
    }
    flush(lines);
  }

  private void flush(StringBuilder lines) {
    if (lines.length() == 0) {
      return;
    }
    try {
      writeEncoded(lines);
      sink.flush();
    } catch (IOException e) {
      log.warn("cannot write {} characters of lines", lines.length(), e);
    }
    lines.setLength(0);
  }

  /** The lines as UTF-8: ASCII copied into a buffer kept for it, anything else through a string. */
  private void writeEncoded(StringBuilder lines) throws IOException {
    int length = lines.length();
    if (length <= ascii.length) {
      int i = 0;
      for (char c; i < length && (c = lines.charAt(i)) < 0x80; i++) {
        ascii[i] = (byte) c;
      }
      if (i == length) {
        sink.write(ascii, 0, length);
        return;
      }
    }
    sink.write(lines.toString().getBytes(StandardCharsets.UTF_8));
  }

  /**
   * Writes what is queued, then stops the writer; gives up after {@code CLOSE_WAIT} (a sink that
   * takes nothing, a stdout nobody reads, must not hold up a stop), saying how many lines are lost.
   */
  @Override
  public void close() {
    closing = true;
    writer.interrupt();
    try {
      writer.join(CLOSE_WAIT.toMillis());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    if (writer.isAlive()) {
      log.warn("stopping with {} lines unwritten: the sink took nothing for {}", queue.size(), CLOSE_WAIT);
    }
  }
}
