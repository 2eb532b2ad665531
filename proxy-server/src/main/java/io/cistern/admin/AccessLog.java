package io.cistern.admin;

import com.fasterxml.jackson.core.io.JsonStringEncoder;
import io.cistern.http.RequestListener;
import io.cistern.http.ServedRequest;
import java.io.OutputStream;
import java.time.Instant;
import java.time.format.DateTimeFormatter;
import java.util.Locale;
import org.slf4j.Logger;

/**
 * One line per answered request: time, client, user, method, URI, status, body bytes, duration,
 * cache hit or miss, upstream, whether the answer went out whole. As {@code key=value} pairs
 * (values quoted when they need it) or as one JSON object per line, for log pipelines that parse
 * JSON. The level of the {@value #LOGGER} logger is its switch: at {@code OFF} nothing is queued.
 *
 * <p>The event loops only queue the request; a writer thread of its own formats the lines and
 * writes them to stdout in batches ({@link BatchingLineWriter}). If it falls more than
 * {@value #QUEUE} lines behind, new lines are dropped rather than a loop held up: {@link #dropped()}
 * counts them ({@code cistern_access_log_dropped_total}) and the log itself says how many.
 */
public final class AccessLog implements RequestListener, AutoCloseable {

  public static final String LOGGER = "cistern.access";

  /** Lines that may wait for the writer: a second of a busy server's requests, a few MiB at most. */
  static final int QUEUE = 65536;

  /** How each line is written. */
  public enum Format {
    TEXT, JSON;

    public static Format parse(String text) {
      try {
        return valueOf(text.trim().toUpperCase(Locale.ROOT));
      } catch (IllegalArgumentException e) {
        throw new IllegalArgumentException("log.access.format must be text or json, not '" + text + "'", e);
      }
    }
  }

  private static final JsonStringEncoder JSON_STRINGS = JsonStringEncoder.getInstance();

  private final Logger logger;
  private final BatchingLineWriter<ServedRequest> writer;

  /** Writes to stdout: {@link System#out} as it is at each write. */
  public AccessLog(Logger logger, Format format) {
    this(logger, format, new OutputStream() {
      @Override
      public void write(int b) {
        System.out.write(b);
      }

      @Override
      public void write(byte[] bytes, int offset, int length) {
        // One write of the whole batch, under the stream's lock: another thread's log line
        // cannot land inside it.
        System.out.write(bytes, offset, length);
      }

      @Override
      public void flush() {
        System.out.flush();
      }
    }, QUEUE);
  }

  AccessLog(Logger logger, Format format, OutputStream sink, int queue) {
    this.logger = logger;
    // The writer thread is the only one to format, so one Timestamps serves it without locks.
    Timestamps times = new Timestamps();
    this.writer = new BatchingLineWriter<>("cistern-access-log", queue,
        (request, line) -> append(request, format, times, line), drops -> dropNotice(drops, format, times), sink);
  }

  @Override
  public void served(ServedRequest request) {
    if (logger.isInfoEnabled()) {
      writer.add(request);
    }
  }

  /** Lines dropped since the start because the writer could not keep up. */
  public long dropped() {
    return writer.dropped();
  }

  /** Writes the lines still queued; call once no more requests are answered. */
  @Override
  public void close() {
    writer.close();
  }

  static String line(ServedRequest request, Format format) {
    StringBuilder line = new StringBuilder(200);
    append(request, format, new Timestamps(), line);
    return line.toString();
  }

  /** Appends the request's line (formatted on the writer thread, straight into its batch). */
  private static void append(ServedRequest request, Format format, Timestamps times, StringBuilder line) {
    Fields fields = format == Format.JSON ? new JsonFields(line, times) : new TextFields(line, times);
    fields.addTime("time", request.time());
    fields.add("remote", request.remote());
    fields.add("user", request.user());
    fields.add("method", request.method());
    fields.add("uri", request.uri());
    fields.addNumber("status", request.status());
    fields.addNumber("bytes", request.bytes());
    fields.addMillis("duration_ms", Math.round(request.duration().toNanos() / 1000.0));
    fields.add("cache", request.cache() == ServedRequest.Cache.NONE ? null : request.cache().name().toLowerCase(Locale.ROOT));
    fields.add("upstream", request.upstream());
    fields.addLiteral("complete", Boolean.toString(request.complete()));
    fields.end();
  }

  private static String dropNotice(long drops, Format format, Timestamps times) {
    StringBuilder line = new StringBuilder(80);
    Fields fields = format == Format.JSON ? new JsonFields(line, times) : new TextFields(line, times);
    fields.addTime("time", Instant.now());
    fields.addNumber("access_log_dropped", drops);
    fields.end();
    return line.toString();
  }

  /** One line being written, field by field, at the end of a builder that may hold lines before it. */
  private abstract static class Fields {

    final StringBuilder line;
    final Timestamps times;
    boolean first = true;

    Fields(StringBuilder line, Timestamps times) {
      this.line = line;
      this.times = times;
    }

    abstract void add(String key, String value);

    final void addLiteral(String key, String value) {
      start(key).append(value);
    }

    /** The value as a JSON string, quotes included: both formats quote this way when they must. */
    final void addQuoted(String key, String value) {
      start(key).append('"');
      JSON_STRINGS.quoteAsString(value, line);
      line.append('"');
    }

    /** Starts the field {@code key}: what is appended to the builder next is its value. */
    abstract StringBuilder start(String key);

    // Numbers and times go straight into the line, with no string of their own on the way.
    final void addNumber(String key, long value) {
      start(key).append(value);
    }

    /**
     * Milliseconds to the microsecond, as {@code 12.346}, {@code 0.05} or {@code 7.0}: one digit
     * after the point at least, never an exponent.
     */
    final void addMillis(String key, long micros) {
      StringBuilder value = start(key);
      if (micros < 0) {
        value.append('-');
        micros = -micros;
      }
      value.append(micros / 1000).append('.');
      int fraction = (int) (micros % 1000);
      if (fraction == 0) {
        value.append('0');
        return;
      }
      for (int unit = 100; fraction != 0; unit /= 10) {
        value.append((char) ('0' + fraction / unit));
        fraction %= unit;
      }
    }

    /** As {@link Instant#toString()}; quoted in JSON, plain in text (it never needs quotes). */
    void addTime(String key, Instant time) {
      times.append(time, start(key));
    }

    void end() {}
  }

  /**
   * {@code key=value}: {@code -} for nothing; quoted and escaped (as JSON strings are) when a
   * space, quote, backslash or control character could make the line misread. An {@code =} needs
   * no quotes: readers split a pair at its first one.
   */
  private static final class TextFields extends Fields {

    TextFields(StringBuilder line, Timestamps times) {
      super(line, times);
    }

    @Override
    void add(String key, String value) {
      if (value == null) {
        addLiteral(key, "-");
      } else if (plain(value)) {
        addLiteral(key, value);
      } else {
        addQuoted(key, value);
      }
    }

    @Override
    StringBuilder start(String key) {
      if (!first) {
        line.append(' ');
      }
      first = false;
      return line.append(key).append('=');
    }

    private static boolean plain(String text) {
      if (text.isEmpty()) {
        return false;
      }
      for (int i = 0; i < text.length(); i++) {
        char c = text.charAt(i);
        if (c <= ' ' || c >= 0x7f || c == '"' || c == '\\') {
          return false;
        }
      }
      return true;
    }

  }

  /** One JSON object, with the fields in order and {@code null} for nothing. */
  private static final class JsonFields extends Fields {

    JsonFields(StringBuilder line, Timestamps times) {
      super(line, times);
    }

    @Override
    void add(String key, String value) {
      if (value == null) {
        addLiteral(key, "null");
      } else {
        addQuoted(key, value);
      }
    }

    @Override
    StringBuilder start(String key) {
      line.append(first ? '{' : ',').append('"').append(key).append("\":");
      first = false;
      return line;
    }

    @Override
    void addTime(String key, Instant time) {
      times.append(time, start(key).append('"'));
      line.append('"');
    }

    @Override
    void end() {
      line.append('}');
    }
  }

  /**
   * Writes instants as {@link Instant#toString()} does, but formats the date and time of day only
   * when the second changes: a busy server's lines nearly all fall in the second of the line
   * before, and a full ISO format per line was a tenth of the writer's time. Not thread-safe.
   */
  static final class Timestamps {

    private long second = Long.MIN_VALUE;
    /** {@code 2026-01-02T03:04:05}: the instant's second without its zone letter. */
    private String secondText;

    void append(Instant time, StringBuilder to) {
      if (time.getEpochSecond() != second) {
        String text = DateTimeFormatter.ISO_INSTANT.format(Instant.ofEpochSecond(time.getEpochSecond()));
        secondText = text.substring(0, text.length() - 1);
        second = time.getEpochSecond();
      }
      to.append(secondText);
      int nanos = time.getNano();
      if (nanos != 0) {
        // As ISO_INSTANT: milli-, micro- or nanoseconds, whichever is the shortest exact one.
        int digits = nanos % 1_000_000 == 0 ? 3 : nanos % 1000 == 0 ? 6 : 9;
        int value = digits == 3 ? nanos / 1_000_000 : digits == 6 ? nanos / 1000 : nanos;
        to.append('.');
        for (int unit = digits == 3 ? 100 : digits == 6 ? 100_000 : 100_000_000; unit > 0; unit /= 10) {
          to.append((char) ('0' + value / unit % 10));
        }
      }
      to.append('Z');
    }
  }
}
