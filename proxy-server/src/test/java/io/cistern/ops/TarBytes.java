package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.zip.ZipEncodingHelper;

/**
 * Tar records made by hand, for archives no well-behaved writer makes: any entry type, any name,
 * any size announced whatever the data that follows, extended headers with any content. And GNU
 * tar, a reader and writer independent of Cistern's.
 */
final class TarBytes {

  static final int RECORD = 512;

  private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();

  /** A header announcing {@code size} bytes (base-256 beyond octal's reach), names taken as they are. */
  static byte[] header(String name, byte type, long size) {
    return header(name, type, size, null);
  }

  static byte[] header(String name, byte type, long size, String linkName) {
    TarArchiveEntry entry = new TarArchiveEntry(name, type, true);
    entry.setSize(size);
    entry.setMode(0644);
    entry.setModTime(0);
    if (linkName != null) {
      entry.setLinkName(linkName);
    }
    byte[] header = new byte[RECORD];
    try {
      entry.writeEntryHeader(header, ZipEncodingHelper.getZipEncoding(StandardCharsets.UTF_8.name()), true);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return header;
  }

  /** A PAX record, {@code "<length> <key>=<value>\n"}, whose length counts its own digits. */
  static String paxRecord(String key, String value) {
    int body = key.getBytes(StandardCharsets.UTF_8).length + value.getBytes(StandardCharsets.UTF_8).length + 3;
    int length = body + Integer.toString(body).length();
    if (Integer.toString(length).length() != Integer.toString(body).length()) {
      length++;
    }
    return length + " " + key + "=" + value + "\n";
  }

  TarBytes file(String name, byte[] content) {
    return entry(name, TarConstants.LF_NORMAL, content);
  }

  /** A header of {@code type} announcing {@code content}'s length, the content, its padding. */
  TarBytes entry(String name, byte type, byte[] content) {
    raw(header(name, type, content.length));
    return data(content);
  }

  /** An extended header ('x' PAX, 'g' global PAX, 'L' GNU long name) holding {@code content}. */
  TarBytes extended(byte type, String content) {
    return entry(type == TarConstants.LF_GNUTYPE_LONGNAME ? "././@LongLink" : "PaxHeaders/x", type,
        content.getBytes(StandardCharsets.UTF_8));
  }

  /** Bytes padded to a whole record, as after a header. */
  TarBytes data(byte[] content) {
    raw(content);
    return raw(new byte[(RECORD - content.length % RECORD) % RECORD]);
  }

  TarBytes raw(byte[] content) {
    bytes.writeBytes(content);
    return this;
  }

  /** The end-of-archive marker: two zero records. */
  TarBytes end() {
    return raw(new byte[2 * RECORD]);
  }

  int size() {
    return bytes.size();
  }

  byte[] bytes() {
    return bytes.toByteArray();
  }

  /** Runs GNU tar with {@code arguments}; it must succeed. */
  static void gnuTar(String... arguments) throws Exception {
    List<String> command = new ArrayList<>(List.of("tar"));
    command.addAll(List.of(arguments));
    Process tar = new ProcessBuilder(command).redirectErrorStream(true).start();
    String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(tar.waitFor(1, TimeUnit.MINUTES));
    assertEquals(0, tar.exitValue(), output);
  }
}
