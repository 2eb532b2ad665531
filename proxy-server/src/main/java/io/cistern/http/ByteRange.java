package io.cistern.http;

/**
 * One range from a {@code Range: bytes=…} header, resolved against the blob's size.
 *
 * @param first first byte, inclusive
 * @param last last byte, inclusive
 */
record ByteRange(long first, long last) {

  /** What a Range header asks of a blob of {@code size} bytes. */
  sealed interface Request permits Whole, Partial, Unsatisfiable {}

  /** No range (or one in a unit other than bytes, or several ranges): send the whole blob. */
  record Whole() implements Request {}

  record Partial(ByteRange range) implements Request {}

  /** A bytes range that is malformed or lies beyond the blob: 416. */
  record Unsatisfiable() implements Request {}

  long length() {
    return last - first + 1;
  }

  String contentRange(long size) {
    return "bytes " + first + "-" + last + "/" + size;
  }

  static Request parse(String header, long size) {
    if (header == null) {
      return new Whole();
    }
    String value = header.trim();
    if (!value.regionMatches(true, 0, "bytes=", 0, 6)) {
      return new Whole();
    }
    String spec = value.substring(6).trim();
    if (spec.contains(",")) {
      // Multipart ranges are legal to ignore, and no registry client asks for them.
      return new Whole();
    }
    int dash = spec.indexOf('-');
    if (dash < 0) {
      return new Unsatisfiable();
    }
    try {
      String start = spec.substring(0, dash).trim();
      String end = spec.substring(dash + 1).trim();
      if (start.isEmpty()) {
        long suffix = Long.parseLong(end);
        if (suffix <= 0 || size == 0) {
          return new Unsatisfiable();
        }
        return new Partial(new ByteRange(Math.max(0, size - suffix), size - 1));
      }
      long first = Long.parseLong(start);
      long last = end.isEmpty() ? size - 1 : Math.min(Long.parseLong(end), size - 1);
      if (first < 0 || first >= size || (!end.isEmpty() && Long.parseLong(end) < first)) {
        return new Unsatisfiable();
      }
      return new Partial(new ByteRange(first, last));
    } catch (NumberFormatException e) {
      return new Unsatisfiable();
    }
  }
}
