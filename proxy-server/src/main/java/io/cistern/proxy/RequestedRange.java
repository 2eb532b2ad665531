package io.cistern.proxy;

import java.util.Optional;

/**
 * One byte range as a client asks for it ({@code Range: bytes=first-last}, {@code bytes=first-}
 * or {@code bytes=-suffix}), before it is resolved against a blob's size, which the first
 * request for a cold blob does not know yet.
 *
 * @param first the first byte asked for, or -1 for a suffix (the last {@code last} bytes)
 * @param last the last byte asked for (inclusive), -1 for "to the end"; for a suffix, how many
 *     bytes
 */
public record RequestedRange(long first, long last) {

  /**
   * The single bytes range {@code header} asks for; empty when there is none to relay: no header,
   * another unit, several ranges, or a malformed one (the HTTP front answers those as they are).
   */
  public static Optional<RequestedRange> parse(String header) {
    if (header == null) {
      return Optional.empty();
    }
    String value = header.trim();
    if (!value.regionMatches(true, 0, "bytes=", 0, 6)) {
      return Optional.empty();
    }
    String spec = value.substring(6).trim();
    int dash = spec.indexOf('-');
    if (spec.contains(",") || dash < 0) {
      return Optional.empty();
    }
    try {
      String start = spec.substring(0, dash).trim();
      String end = spec.substring(dash + 1).trim();
      if (start.isEmpty()) {
        return Optional.of(new RequestedRange(-1, Long.parseLong(end)));
      }
      return Optional.of(new RequestedRange(Long.parseLong(start), end.isEmpty() ? -1 : Long.parseLong(end)));
    } catch (NumberFormatException e) {
      return Optional.empty();
    }
  }

  /** Whether a blob of {@code size} bytes has any byte of this range. */
  public boolean satisfiableIn(long size) {
    if (first < 0) {
      return last > 0 && size > 0;
    }
    return first < size && (last < 0 || last >= first);
  }

  /** The first byte this range starts at in a blob of {@code size} bytes (one it is satisfiable in). */
  public long firstIn(long size) {
    return first < 0 ? Math.max(0, size - last) : first;
  }

  /** The last byte this range ends at in a blob of {@code size} bytes (one it is satisfiable in). */
  public long lastIn(long size) {
    return first < 0 || last < 0 ? size - 1 : Math.min(last, size - 1);
  }

  /** Whether this range starts at the blob's first byte, whatever its size. */
  boolean fromTheStart() {
    return first == 0;
  }

  /** The range as a {@code Range} header asks for it. */
  String header() {
    if (first < 0) {
      return "bytes=-" + last;
    }
    return "bytes=" + first + "-" + (last < 0 ? "" : Long.toString(last));
  }
}
