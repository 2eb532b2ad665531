package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The bundle's tar: what the writer writes GNU tar reads, as the bundle format says; the reader
 * takes PAX and GNU headers as they are meant, streams, and refuses a short archive.
 */
class BundleTarTest {

  private static final String SHA512_NAME = "blobs/sha512/" + "ab".repeat(64);

  @TempDir
  Path temp;

  private static byte[] archive(List<String> names, List<byte[]> contents) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    BundleTarWriter tar = new BundleTarWriter(bytes);
    for (int i = 0; i < names.size(); i++) {
      tar.file(names.get(i), contents.get(i));
    }
    tar.finish();
    return bytes.toByteArray();
  }

  private static String text(byte[] bytes) {
    return new String(bytes, StandardCharsets.UTF_8);
  }

  @Test
  void entriesComeBackAsWrittenWhetherReadOrSkipped() throws IOException {
    byte[] first = "{\"a\":1}".getBytes(StandardCharsets.UTF_8);
    byte[] second = new byte[70_000];
    Arrays.fill(second, (byte) 7);
    byte[] third = new byte[512];
    byte[] archive = archive(List.of("index.json", "blobs/sha256/ab", "blobs/sha256/cd"), List.of(first, second, third));
    assertEquals(0, archive.length % 512);

    BundleTarReader reader = new BundleTarReader(new ByteArrayInputStream(archive));
    BundleTarReader.Entry entry = reader.next();
    assertEquals("index.json", entry.name());
    assertArrayEquals(first, entry.content().readAllBytes());
    assertEquals("blobs/sha256/ab", reader.next().name());
    BundleTarReader.Entry last = reader.next();
    assertEquals("blobs/sha256/cd", last.name(), "an entry left unread is skipped whole");
    assertArrayEquals(third, last.content().readAllBytes());
    assertNull(reader.next());
  }

  @Test
  void theWriterWritesTheBundleFormatAndTheSameBytesForTheSameContent() throws IOException {
    byte[] archive = archive(List.of("oci-layout", SHA512_NAME), List.of(new byte[] {1}, new byte[] {2}));
    assertArrayEquals(archive, archive(List.of("oci-layout", SHA512_NAME), List.of(new byte[] {1}, new byte[] {2})));
    assertEquals("ustar\0", text(Arrays.copyOfRange(archive, 257, 263)), "POSIX headers");
    assertEquals(4 * 512 + 2 * 512 + 1024, archive.length, "two entries, the long name's PAX header, the end; no padding");

    try (TarArchiveInputStream tar = new TarArchiveInputStream(new ByteArrayInputStream(archive))) {
      for (TarArchiveEntry entry = tar.getNextEntry(); entry != null; entry = tar.getNextEntry()) {
        assertEquals(0644, entry.getMode(), entry.getName());
        assertEquals(0, entry.getLongUserId());
        assertEquals(0, entry.getLongGroupId());
        assertEquals("", entry.getUserName());
        assertEquals(0, entry.getLastModifiedTime().toMillis());
        assertEquals(TarConstants.LF_NORMAL, entry.getLinkFlag());
      }
    }
  }

  @Test
  void gnuTarListsAndExtractsWhatTheWriterWroteLongNamesIncluded() throws Exception {
    byte[] content = "layer bytes".getBytes(StandardCharsets.UTF_8);
    byte[] longNamed = "a sha512 blob, whose name is over 100 bytes".getBytes(StandardCharsets.UTF_8);
    Path file = temp.resolve("bundle.tar");
    Files.write(file, archive(List.of("oci-layout", "blobs/sha256/ef", SHA512_NAME),
        List.of("{}".getBytes(StandardCharsets.UTF_8), content, longNamed)));
    TarBytes.gnuTar("-xf", file.toString(), "-C", temp.toString());
    assertArrayEquals(content, Files.readAllBytes(temp.resolve("blobs/sha256/ef")));
    assertArrayEquals(longNamed, Files.readAllBytes(temp.resolve(SHA512_NAME)));
  }

  @Test
  void aFileOf8GiBOrMoreGetsAPaxSizeRecordThatTheReaderTakes() throws IOException {
    long size = 9_000_000_000L;
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    BundleTarWriter writer = new BundleTarWriter(bytes);
    class HeadersWritten extends RuntimeException {}
    // The headers are out once the content is asked for; 9 GB of it is more than a test writes.
    assertThrows(HeadersWritten.class, () -> writer.file("blobs/sha256/big", size, out -> {
      throw new HeadersWritten();
    }));
    byte[] headers = bytes.toByteArray();
    assertEquals(3 * 512, headers.length, "a PAX header, its record, the entry's header");
    assertEquals('x', headers[156]);
    assertTrue(text(headers).contains("19 size=9000000000\n"), "the record counts its own length");

    BundleTarReader.Entry entry = new BundleTarReader(new ByteArrayInputStream(headers)).next();
    assertEquals("blobs/sha256/big", entry.name());
    assertEquals(size, entry.size());
    EOFException cut = assertThrows(EOFException.class, () -> entry.content().read(new byte[10]));
    assertTrue(cut.getMessage().contains("in the middle of blobs/sha256/big (0 of 9000000000 bytes)"), cut.getMessage());
  }

  @Test
  void aPaxHeaderOverridesTheSizeAndTheName() throws IOException {
    String name = "blobs/sha256/" + "a".repeat(100);
    byte[] archive = new TarBytes()
        .extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC, TarBytes.paxRecord("path", name) + TarBytes.paxRecord("size", "3"))
        .raw(TarBytes.header("short", TarConstants.LF_NORMAL, 0)).data("abc".getBytes(StandardCharsets.UTF_8))
        .end().bytes();
    BundleTarReader.Entry entry = new BundleTarReader(new ByteArrayInputStream(archive)).next();
    assertEquals(name, entry.name());
    assertEquals("abc", text(entry.content().readAllBytes()));
  }

  /** The hand-written reader split records at each newline: this value's newline made it see a size of 1. */
  @Test
  void aPaxRecordIsReadByItsLengthNotSplitAtANewlineInItsValue() throws IOException {
    byte[] archive = new TarBytes()
        .extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC, TarBytes.paxRecord("comment", "one\n9 size=1\ntwo"))
        .file("blobs/sha256/ab", "abc".getBytes(StandardCharsets.UTF_8))
        .end().bytes();
    BundleTarReader.Entry entry = new BundleTarReader(new ByteArrayInputStream(archive)).next();
    assertEquals(3, entry.size());
    assertEquals("abc", text(entry.content().readAllBytes()));
  }

  /** The hand-written reader refused GNU long names; GNU tar writes them for a sha512 blob's name. */
  @Test
  void aGnuLongNameIsRead() throws Exception {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    try (TarArchiveOutputStream gnu = new TarArchiveOutputStream(bytes)) {
      gnu.setLongFileMode(TarArchiveOutputStream.LONGFILE_GNU);
      TarArchiveEntry entry = new TarArchiveEntry(SHA512_NAME);
      entry.setSize(3);
      gnu.putArchiveEntry(entry);
      gnu.write("abc".getBytes(StandardCharsets.UTF_8));
      gnu.closeArchiveEntry();
    }
    byte[] archive = bytes.toByteArray();
    assertEquals('L', archive[156], "written with a GNU long name");

    BundleTarReader reader = new BundleTarReader(new ByteArrayInputStream(archive));
    BundleTarReader.Entry entry = reader.next();
    assertEquals(SHA512_NAME, entry.name());
    assertEquals("abc", text(entry.content().readAllBytes()));
    assertNull(reader.next());
  }

  @Test
  void aTruncatedArchiveIsAnErrorNamingTheEntryItEndedIn() throws IOException {
    byte[] content = new byte[10_000];
    byte[] archive = archive(List.of("blobs/sha256/ab"), List.of(content));
    BundleTarReader cutInContent = new BundleTarReader(new ByteArrayInputStream(Arrays.copyOf(archive, 512 + 4000)));
    InputStream in = cutInContent.next().content();
    EOFException inContent = assertThrows(EOFException.class, in::readAllBytes);
    assertTrue(inContent.getMessage().contains("in the middle of blobs/sha256/ab (4000 of 10000 bytes)"), inContent.getMessage());

    BundleTarReader skippedWhenCut = new BundleTarReader(new ByteArrayInputStream(Arrays.copyOf(archive, 512 + 4000)));
    skippedWhenCut.next();
    EOFException whenSkipped = assertThrows(EOFException.class, skippedWhenCut::next);
    assertTrue(whenSkipped.getMessage().contains("in the middle of blobs/sha256/ab (4000 of 10000 bytes)"), whenSkipped.getMessage());

    BundleTarReader cutAtTheEnd = new BundleTarReader(new ByteArrayInputStream(Arrays.copyOf(archive, 512 + 10_240)));
    cutAtTheEnd.next().content().readAllBytes();
    EOFException noEnd = assertThrows(EOFException.class, cutAtTheEnd::next, "an archive without its end marker is not whole");
    assertTrue(noEnd.getMessage().contains("without its end-of-archive marker"), noEnd.getMessage());

    BundleTarReader cutInAHeader = new BundleTarReader(new ByteArrayInputStream(Arrays.copyOf(archive, 300)));
    EOFException inHeader = assertThrows(EOFException.class, cutInAHeader::next);
    assertTrue(inHeader.getMessage().contains("in the middle of a tar header"), inHeader.getMessage());
  }

  @Test
  void aDamagedHeaderIsRefused() throws IOException {
    byte[] archive = archive(List.of("a"), List.of(new byte[1]));
    archive[10] ^= 1;
    OperationException damaged = assertThrows(OperationException.class,
        () -> new BundleTarReader(new ByteArrayInputStream(archive)).next());
    assertTrue(damaged.getMessage().contains("bad checksum"), damaged.getMessage());
  }

  /** A rerun of an import passes over blobs already cached: it seeks over them, as it did, rather than read them. */
  @Test
  void anEntryLeftUnreadIsSkippedWithoutReadingIt() throws IOException {
    byte[] archive = archive(List.of("blobs/sha256/big", "blobs/sha256/small"), List.of(new byte[8 << 20], new byte[] {5}));
    long[] read = {0};
    InputStream counted = new FilterInputStream(new ByteArrayInputStream(archive)) {
      @Override
      public int read(byte[] buffer, int offset, int length) throws IOException {
        int n = super.read(buffer, offset, length);
        read[0] += Math.max(n, 0);
        return n;
      }
    };
    BundleTarReader reader = new BundleTarReader(counted);
    reader.next();
    assertArrayEquals(new byte[] {5}, reader.next().content().readAllBytes());
    assertNull(reader.next());
    assertTrue(read[0] < 64 << 10, read[0] + " bytes read");
  }
}
