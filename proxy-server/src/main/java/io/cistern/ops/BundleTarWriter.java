package io.cistern.ops;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.attribute.FileTime;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveOutputStream;

/**
 * Writes a bundle's tar through Commons Compress: POSIX (ustar) headers, regular files only,
 * owned by root, mode 0644, time 0, so the same content always gives the same bytes. What ustar
 * cannot hold goes in a PAX header, as GNU tar and Go's archive/tar write it: the size of a file
 * of 8 GiB or more, a name of 100 bytes or more (a sha512 blob's).
 */
final class BundleTarWriter {

  private static final int MODE = 0644;
  private static final FileTime EPOCH = FileTime.fromMillis(0);

  /** Writes exactly the size announced for an entry. */
  @FunctionalInterface
  interface Content {
    void writeTo(OutputStream out) throws IOException;
  }

  private final TarArchiveOutputStream tar;

  BundleTarWriter(OutputStream out) {
    tar = new TarArchiveOutputStream(out, StandardCharsets.UTF_8.name());
    tar.setLongFileMode(TarArchiveOutputStream.LONGFILE_POSIX);
    tar.setBigNumberMode(TarArchiveOutputStream.BIGNUMBER_POSIX);
  }

  void file(String name, byte[] content) throws IOException {
    file(name, content.length, out -> out.write(content));
  }

  /** Writes one entry; {@code content} must write exactly {@code size} bytes (more or fewer fail). */
  void file(String name, long size, Content content) throws IOException {
    TarArchiveEntry entry = new TarArchiveEntry(name);
    entry.setMode(MODE);
    entry.setLastModifiedTime(EPOCH);
    entry.setSize(size);
    tar.putArchiveEntry(entry);
    content.writeTo(tar);
    tar.closeArchiveEntry();
  }

  /** Ends the archive (two zero records) and flushes it; the caller closes the stream. */
  void finish() throws IOException {
    tar.finish();
  }
}
