package io.cistern.http;

import io.cistern.proxy.RequestedRange;

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
    if (value.contains(",")) {
      // Multipart ranges are legal to ignore, and no registry client asks for them.
      return new Whole();
    }
    return RequestedRange.parse(value)
        .filter(asked -> asked.satisfiableIn(size))
        .<Request>map(asked -> new Partial(new ByteRange(asked.firstIn(size), asked.lastIn(size))))
        .orElseGet(Unsatisfiable::new);
  }
}
