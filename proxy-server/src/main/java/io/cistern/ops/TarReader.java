package io.cistern.ops;

import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Reads a tar stream one regular file at a time: ustar and GNU headers, PAX size and path
 * records, base-256 sizes. Directories and global headers are passed over; links and devices are
 * refused (a bundle has none). A stream that ends inside a header or a file is an
 * {@link EOFException} naming where it ended, never a short entry taken for a whole one.
 */
final class TarReader {

  /** One regular file; read its content from {@link #content} before asking for the next. */
  record Entry(String name, long size, InputStream content) {}

  private final InputStream in;
  private BoundedStream current;

  TarReader(InputStream in) {
    this.in = in;
  }

  /** The next regular file, or null at the end of the archive. */
  Entry next() throws IOException {
    finishCurrent();
    String paxPath = null;
    long paxSize = -1;
    while (true) {
      byte[] header = new byte[TarWriter.BLOCK];
      if (!readBlock(header)) {
        throw new EOFException("the bundle ends without its end-of-archive marker (truncated?)");
      }
      if (isZero(header)) {
        return null;
      }
      verifyChecksum(header);
      char type = (char) header[156];
      long size = size(header);
      String name = name(header);
      switch (type) {
        case 'x' -> {
          String records = new String(readFully(size, name), StandardCharsets.UTF_8);
          for (String record : records.split("\n")) {
            int space = record.indexOf(' ');
            int equals = record.indexOf('=');
            if (space < 0 || equals < space) {
              continue;
            }
            String key = record.substring(space + 1, equals);
            String value = record.substring(equals + 1);
            if (key.equals("size")) {
              paxSize = Long.parseLong(value);
            } else if (key.equals("path")) {
              paxPath = value;
            }
          }
        }
        case 'g', '5' -> skip(size, name);
        case '0', '\0', '7' -> {
          long entrySize = paxSize >= 0 ? paxSize : size;
          current = new BoundedStream(in, paxPath != null ? paxPath : name, entrySize);
          return new Entry(current.name, entrySize, current);
        }
        default -> throw new IOException("unsupported tar entry type '" + type + "' for " + name);
      }
    }
  }

  private void finishCurrent() throws IOException {
    if (current == null) {
      return;
    }
    current.skipRest();
    long padding = (TarWriter.BLOCK - current.size % TarWriter.BLOCK) % TarWriter.BLOCK;
    skipExactly(padding, current.name);
    current = null;
  }

  private byte[] readFully(long size, String name) throws IOException {
    if (size > 1 << 20) {
      throw new IOException("tar extended header of " + size + " bytes for " + name);
    }
    byte[] bytes = in.readNBytes((int) size);
    if (bytes.length < size) {
      throw new EOFException("the bundle ends in the header of " + name);
    }
    skipExactly((TarWriter.BLOCK - size % TarWriter.BLOCK) % TarWriter.BLOCK, name);
    return bytes;
  }

  private void skip(long size, String name) throws IOException {
    skipExactly(size + (TarWriter.BLOCK - size % TarWriter.BLOCK) % TarWriter.BLOCK, name);
  }

  private void skipExactly(long bytes, String name) throws IOException {
    long left = bytes;
    while (left > 0) {
      long skipped = in.skip(left);
      if (skipped <= 0) {
        if (in.read() < 0) {
          throw new EOFException("the bundle ends in the middle of " + name);
        }
        skipped = 1;
      }
      left -= skipped;
    }
  }

  /** Reads one block; false at a clean end of stream (no byte of it read). */
  private boolean readBlock(byte[] block) throws IOException {
    int read = in.readNBytes(block, 0, block.length);
    if (read == 0) {
      return false;
    }
    if (read < block.length) {
      throw new EOFException("the bundle ends in the middle of a tar header");
    }
    return true;
  }

  private static boolean isZero(byte[] block) {
    for (byte b : block) {
      if (b != 0) {
        return false;
      }
    }
    return true;
  }

  private static void verifyChecksum(byte[] header) throws IOException {
    long sum = 0;
    for (int i = 0; i < header.length; i++) {
      sum += i >= 148 && i < 156 ? ' ' : header[i] & 0xff;
    }
    if (sum != parseOctal(header, 148, 8)) {
      throw new IOException("corrupt tar header (bad checksum): not a bundle, or damaged");
    }
  }

  private static long size(byte[] header) {
    if ((header[124] & 0x80) != 0) {
      // GNU base-256: the remaining bytes are a big-endian number.
      long value = header[124] & 0x7f;
      for (int i = 125; i < 136; i++) {
        value = (value << 8) | (header[i] & 0xff);
      }
      return value;
    }
    return parseOctal(header, 124, 12);
  }

  private static String name(byte[] header) {
    String name = text(header, 0, 100);
    String prefix = header[257] == 'u' ? text(header, 345, 155) : "";
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }

  private static String text(byte[] header, int offset, int length) {
    int end = offset;
    while (end < offset + length && header[end] != 0) {
      end++;
    }
    return new String(header, offset, end - offset, StandardCharsets.UTF_8);
  }

  private static long parseOctal(byte[] header, int offset, int length) {
    long value = 0;
    for (int i = offset; i < offset + length; i++) {
      byte b = header[i];
      if (b == 0 || b == ' ') {
        if (value > 0) {
          break;
        }
        continue;
      }
      if (b < '0' || b > '7') {
        break;
      }
      value = value * 8 + (b - '0');
    }
    return value;
  }

  /** One entry's bytes; ending before its announced size is an error, not a short read. */
  private static final class BoundedStream extends InputStream {
    private final InputStream in;
    private final String name;
    private final long size;
    private long remaining;

    BoundedStream(InputStream in, String name, long size) {
      this.in = in;
      this.name = name;
      this.size = size;
      this.remaining = size;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      if (remaining == 0) {
        return -1;
      }
      int read = in.read(buffer, offset, (int) Math.min(length, remaining));
      if (read < 0) {
        throw new EOFException("the bundle ends in the middle of " + name + " (" + (size - remaining) + " of "
            + size + " bytes)");
      }
      remaining -= read;
      return read;
    }

    void skipRest() throws IOException {
      byte[] buffer = new byte[64 * 1024];
      while (read(buffer, 0, buffer.length) >= 0) {
        // Draining what the caller did not read.
      }
    }
  }
}
