package io.cistern.ops;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;

/**
 * Writes a POSIX (ustar) tar stream: regular files only, owned by root, mode 0644, time 0, so the
 * same content always gives the same bytes. A file of 8 GiB or more (beyond ustar's size field)
 * gets a PAX header with its size, as GNU tar and Go's archive/tar write it.
 */
final class TarWriter {

  static final int BLOCK = 512;
  private static final long USTAR_MAX_SIZE = 077777777777L;

  /** Writes exactly the size announced for an entry. */
  @FunctionalInterface
  interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  private final OutputStream out;

  TarWriter(OutputStream out) {
    this.out = out;
  }

  void file(String name, byte[] content) throws IOException {
    file(name, content.length, stream -> stream.write(content));
  }

  /** Writes one entry; {@code content} must write exactly {@code size} bytes. */
  void file(String name, long size, Content content) throws IOException {
    if (size > USTAR_MAX_SIZE) {
      byte[] pax = paxRecord("size", Long.toString(size));
      out.write(header("PaxHeaders/" + name, pax.length, 'x'));
      out.write(pax);
      pad(pax.length);
    }
    out.write(header(name, size > USTAR_MAX_SIZE ? 0 : size, '0'));
    CountingStream counted = new CountingStream(out);
    content.writeTo(counted);
    if (counted.count != size) {
      throw new IOException(name + ": wrote " + counted.count + " bytes, announced " + size);
    }
    pad(size);
  }

  /** Ends the archive: two zero blocks. The caller closes the stream. */
  void finish() throws IOException {
    out.write(new byte[2 * BLOCK]);
    out.flush();
  }

  private void pad(long size) throws IOException {
    int padding = (int) ((BLOCK - size % BLOCK) % BLOCK);
    out.write(new byte[padding]);
  }

  private static byte[] header(String name, long size, char type) {
    byte[] nameBytes = name.getBytes(StandardCharsets.UTF_8);
    if (nameBytes.length > 100) {
      throw new IllegalArgumentException("tar entry name longer than 100 bytes: " + name);
    }
    byte[] header = new byte[BLOCK];
    System.arraycopy(nameBytes, 0, header, 0, nameBytes.length);
    octal(header, 100, 8, 0644);
    octal(header, 108, 8, 0);
    octal(header, 116, 8, 0);
    octal(header, 124, 12, size);
    octal(header, 136, 12, 0);
    header[156] = (byte) type;
    ascii(header, 257, "ustar");
    ascii(header, 263, "00");
    for (int i = 148; i < 156; i++) {
      header[i] = ' ';
    }
    long checksum = 0;
    for (byte b : header) {
      checksum += b & 0xff;
    }
    octal(header, 148, 7, checksum);
    header[155] = ' ';
    return header;
  }

  /** Writes {@code value} as zero-padded octal in {@code length - 1} digits and a NUL. */
  private static void octal(byte[] header, int offset, int length, long value) {
    String digits = Long.toOctalString(value);
    String padded = "0".repeat(length - 1 - digits.length()) + digits;
    ascii(header, offset, padded);
    header[offset + length - 1] = 0;
  }

  private static void ascii(byte[] header, int offset, String text) {
    byte[] bytes = text.getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(bytes, 0, header, offset, bytes.length);
  }

  /** A PAX record, {@code "<length> <key>=<value>\n"}, whose length counts its own digits. */
  static byte[] paxRecord(String key, String value) {
    int body = key.length() + value.length() + 3;
    int length = body + Integer.toString(body).length();
    if (Integer.toString(length).length() != Integer.toString(body).length()) {
      length++;
    }
    return (length + " " + key + "=" + value + "\n").getBytes(StandardCharsets.UTF_8);
  }

  private static final class CountingStream extends OutputStream {
    private final OutputStream out;
    private long count;

    CountingStream(OutputStream out) {
      this.out = out;
    }

    @Override
    public void write(int b) throws IOException {
      out.write(b);
      count++;
    }

    @Override
    public void write(byte[] bytes, int offset, int length) throws IOException {
      out.write(bytes, offset, length);
      count += length;
    }
  }
}
