package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The bundle's tar: what the writer writes GNU tar reads, and the reader refuses a short archive. */
class TarTest {

  @TempDir
  Path temp;

  private static byte[] archive(List<String> names, List<byte[]> contents) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    TarWriter tar = new TarWriter(bytes);
    for (int i = 0; i < names.size(); i++) {
      tar.file(names.get(i), contents.get(i));
    }
    tar.finish();
    return bytes.toByteArray();
  }

  @Test
  void entriesComeBackAsWrittenWhetherReadOrSkipped() throws IOException {
    byte[] first = "{\"a\":1}".getBytes(StandardCharsets.UTF_8);
    byte[] second = new byte[70_000];
    Arrays.fill(second, (byte) 7);
    byte[] third = new byte[512];
    byte[] archive = archive(List.of("index.json", "blobs/sha256/ab", "blobs/sha256/cd"), List.of(first, second, third));
    assertEquals(0, archive.length % 512);

    TarReader reader = new TarReader(new ByteArrayInputStream(archive));
    TarReader.Entry entry = reader.next();
    assertEquals("index.json", entry.name());
    assertArrayEquals(first, entry.content().readAllBytes());
    assertEquals("blobs/sha256/ab", reader.next().name());
    TarReader.Entry last = reader.next();
    assertEquals("blobs/sha256/cd", last.name(), "an entry left unread is skipped whole");
    assertArrayEquals(third, last.content().readAllBytes());
    assertNull(reader.next());
  }

  @Test
  void gnuTarListsAndExtractsWhatTheWriterWrote() throws Exception {
    byte[] content = "layer bytes".getBytes(StandardCharsets.UTF_8);
    Path file = temp.resolve("bundle.tar");
    Files.write(file, archive(List.of("oci-layout", "blobs/sha256/ef"), List.of("{}".getBytes(StandardCharsets.UTF_8), content)));
    Process tar = new ProcessBuilder("tar", "-xf", file.toString(), "-C", temp.toString()).redirectErrorStream(true).start();
    String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(tar.waitFor(1, TimeUnit.MINUTES));
    assertEquals(0, tar.exitValue(), output);
    assertArrayEquals(content, Files.readAllBytes(temp.resolve("blobs/sha256/ef")));
  }

  @Test
  void aPaxSizeRecordCountsItsOwnLength() {
    byte[] record = TarWriter.paxRecord("size", "9000000000");
    assertEquals("19 size=9000000000\n", new String(record, StandardCharsets.UTF_8));
    assertEquals(19, record.length);
    byte[] longer = TarWriter.paxRecord("path", "x".repeat(91));
    assertEquals(101, longer.length, "counting its own digits takes the length from 2 to 3 digits");
    assertTrue(new String(longer, StandardCharsets.UTF_8).startsWith("101 path="));
  }

  @Test
  void aPaxHeaderOverridesTheSizeAndTheName() throws IOException {
    byte[] pax = TarWriter.paxRecord("path", "blobs/sha256/" + "a".repeat(100));
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    bytes.write(header("PaxHeaders/x", pax.length, 'x'));
    bytes.write(Arrays.copyOf(pax, 512));
    bytes.write(header("short", 3, '0'));
    bytes.write(Arrays.copyOf("abc".getBytes(StandardCharsets.UTF_8), 512));
    bytes.write(new byte[1024]);
    TarReader.Entry entry = new TarReader(new ByteArrayInputStream(bytes.toByteArray())).next();
    assertEquals("blobs/sha256/" + "a".repeat(100), entry.name());
    assertEquals("abc", new String(entry.content().readAllBytes(), StandardCharsets.UTF_8));
  }

  /** A header as the writer makes one, read back out of a one-entry archive. */
  private static byte[] header(String name, int size, char type) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    new TarWriter(bytes).file(name, new byte[size]);
    byte[] header = Arrays.copyOf(bytes.toByteArray(), 512);
    header[156] = (byte) type;
    long sum = 0;
    for (int i = 0; i < 512; i++) {
      sum += i >= 148 && i < 156 ? ' ' : header[i] & 0xff;
    }
    byte[] checksum = String.format("%06o\0 ", sum).getBytes(StandardCharsets.US_ASCII);
    System.arraycopy(checksum, 0, header, 148, 8);
    return header;
  }

  @Test
  void aTruncatedArchiveIsAnErrorNamingTheEntryItEndedIn() throws IOException {
    byte[] content = new byte[10_000];
    byte[] archive = archive(List.of("blobs/sha256/ab"), List.of(content));
    TarReader cutInContent = new TarReader(new ByteArrayInputStream(Arrays.copyOf(archive, 512 + 4000)));
    InputStream in = cutInContent.next().content();
    EOFException inContent = assertThrows(EOFException.class, in::readAllBytes);
    assertTrue(inContent.getMessage().contains("in the middle of blobs/sha256/ab (4000 of 10000 bytes)"), inContent.getMessage());

    TarReader cutAtTheEnd = new TarReader(new ByteArrayInputStream(Arrays.copyOf(archive, 512 + 10_240)));
    cutAtTheEnd.next().content().readAllBytes();
    assertThrows(EOFException.class, cutAtTheEnd::next, "an archive without its end marker is not whole");
  }

  @Test
  void aDamagedHeaderIsRefused() throws IOException {
    byte[] archive = archive(List.of("a"), List.of(new byte[1]));
    archive[10] ^= 1;
    IOException damaged = assertThrows(IOException.class, () -> new TarReader(new ByteArrayInputStream(archive)).next());
    assertTrue(damaged.getMessage().contains("checksum"));
  }
}
