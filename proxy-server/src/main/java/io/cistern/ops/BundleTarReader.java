package io.cistern.ops;

import java.io.EOFException;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import org.apache.commons.compress.archivers.tar.TarArchiveEntry;
import org.apache.commons.compress.archivers.tar.TarArchiveInputStream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.apache.commons.compress.archivers.tar.TarUtils;

/**
 * Reads a bundle's tar one regular file at a time, streaming, through Commons Compress (ustar,
 * PAX and GNU headers). Compress is lenient in ways a reader of untrusted files cannot be, so
 * every header passes through {@link GuardedTarStream#readRecord} before Compress reads it:
 * <ul>
 *   <li>a stream that ends inside a header or without the end-of-archive marker (both of which
 *       Compress takes for a clean end), or inside a file, is an {@link EOFException} saying
 *       where;</li>
 *   <li>a header with a bad checksum is refused (Compress only records it);</li>
 *   <li>an extended header (PAX, GNU long name) over {@value #MAX_EXTENDED_HEADER_BYTES} bytes is
 *       refused before Compress reads it into memory, more than {@value #MAX_HEADERS_PER_ENTRY}
 *       headers for one entry too (Compress reads a chain of them recursively), and reading one
 *       entry's headers may consume at most {@value #MAX_HEADER_BYTES_PER_ENTRY} bytes of the
 *       stream (a PAX 1.0 sparse map is read into memory before the entry is returned);</li>
 *   <li>after the end-of-archive marker only zeros may follow (Compress skips them unread).</li>
 * </ul>
 * Returned entries are regular files only: directories are passed over, links, devices, FIFOs,
 * sparse files and other types are refused, as are absolute names and names with a {@code ..}
 * segment. Memory per entry is bounded by those limits; a file's content is never buffered.
 * Refusals are {@link OperationException}s (400) naming the entry.
 */
final class BundleTarReader {

  private static final int MAX_EXTENDED_HEADER_BYTES = 64 << 10;
  private static final int MAX_HEADERS_PER_ENTRY = 8;
  private static final int MAX_HEADER_BYTES_PER_ENTRY = 1 << 20;
  private static final int RECORD = TarConstants.DEFAULT_RCDSIZE;
  private static final int SIZE_OFFSET = TarConstants.NAMELEN + TarConstants.MODELEN + TarConstants.UIDLEN
      + TarConstants.GIDLEN;
  private static final int TYPE_OFFSET = SIZE_OFFSET + TarConstants.SIZELEN + TarConstants.MODTIMELEN
      + TarConstants.CHKSUMLEN;
  private static final int NAME_SHOWN = 200;

  /** One regular file; read its content from {@link #content} (or not) before asking for the next. */
  record Entry(String name, long size, InputStream content) {}

  private final MeteredStream stream;
  private final GuardedTarStream tar;
  private EntryContent current;

  BundleTarReader(InputStream in) {
    this.stream = new MeteredStream(in);
    this.tar = new GuardedTarStream(stream);
  }

  /** The next regular file, or null after the end-of-archive marker. */
  Entry next() throws IOException {
    if (current != null) {
      current.skipRest();
      current = null;
    }
    while (true) {
      TarArchiveEntry entry = nextHeader();
      if (entry == null) {
        return null;
      }
      String name = entry.getName();
      refuseUnsafeName(name);
      byte type = entry.getLinkFlag();
      boolean regular = type == TarConstants.LF_NORMAL || type == TarConstants.LF_OLDNORM
          || type == TarConstants.LF_CONTIG;
      if (!regular && type != TarConstants.LF_DIR) {
        throw refused(name, "is " + describeType(entry) + "; a bundle holds only regular files");
      }
      if (entry.isSparse()) {
        throw refused(name, "is a sparse file; a bundle holds only regular files");
      }
      if (type == TarConstants.LF_DIR || name.endsWith("/")) {
        // Compress neither reads nor skips a directory's data: any would be taken for headers.
        if (entry.getSize() != 0) {
          throw refused(name, "is a directory with " + entry.getSize() + " bytes of data");
        }
        continue;
      }
      current = new EntryContent(name, entry.getSize(), stream.position());
      return new Entry(name, entry.getSize(), current);
    }
  }

  private TarArchiveEntry nextHeader() throws IOException {
    stream.limitTo(stream.position() + MAX_HEADER_BYTES_PER_ENTRY);
    tar.headersOfThisEntry = 0;
    try {
      return tar.getNextEntry();
    } catch (OperationException | EOFException e) {
      throw e;
    } catch (IOException | RuntimeException e) {
      // Compress's own complaint about a malformed header (some unchecked), or a read error.
      if (stream.failed) {
        throw e;
      }
      if (stream.ended) {
        throw new EOFException("the bundle ends at byte " + stream.position() + ", inside the tar records of "
            + shown(tar.lastHeaderName) + " (truncated?)");
      }
      String detail = e.getCause() != null ? e.getMessage() + ": " + e.getCause().getMessage() : e.getMessage();
      throw new OperationException(400, "damaged tar header " + shown(tar.lastHeaderName) + " at byte "
          + tar.lastHeaderAt + " of the bundle: " + detail, e);
    } finally {
      stream.unlimited();
    }
  }

  private static void refuseUnsafeName(String name) {
    if (name.isEmpty()) {
      throw new OperationException(400, "a tar entry of the bundle has no name");
    }
    if (name.startsWith("/")) {
      throw refused(name, "has an absolute name");
    }
    for (String segment : name.split("/")) {
      if (segment.equals("..")) {
        throw refused(name, "has a name with '..', which would reach outside the bundle");
      }
    }
  }

  private static String describeType(TarArchiveEntry entry) {
    if (entry.isSymbolicLink()) {
      return "a symbolic link (to " + shown(entry.getLinkName()) + ")";
    } else if (entry.isLink()) {
      return "a hard link (to " + shown(entry.getLinkName()) + ")";
    } else if (entry.isCharacterDevice()) {
      return "a character device";
    } else if (entry.isBlockDevice()) {
      return "a block device";
    } else if (entry.isFIFO()) {
      return "a FIFO";
    }
    return "of tar entry type '" + shown(String.valueOf((char) entry.getLinkFlag())) + "'";
  }

  private static OperationException refused(String name, String why) {
    return new OperationException(400, "tar entry " + shown(name) + " of the bundle " + why + " (refused)");
  }

  /** An entry name as an error message shows it: control characters escaped, cut short. */
  static String shown(String name) {
    StringBuilder text = new StringBuilder();
    name.codePoints().limit(NAME_SHOWN).forEach(c -> text.append(Character.isISOControl(c)
        ? String.format("\\x%02x", c) : new String(Character.toChars(c))));
    return name.codePointCount(0, name.length()) > NAME_SHOWN ? text.append("…").toString() : text.toString();
  }

  /**
   * Compress's tar stream with every header record checked before Compress interprets it. Its
   * hooks run inside {@link TarArchiveInputStream#getNextEntry}, which calls them for each header
   * record of an entry (extended headers first), for the end-of-archive marker and, after it, for
   * the second zero record.
   */
  private static final class GuardedTarStream extends TarArchiveInputStream {
    private final MeteredStream stream;
    int headersOfThisEntry;
    String lastHeaderName = "";
    long lastHeaderAt;
    private String extendedHeaderWithoutEntry;
    private boolean ended;

    GuardedTarStream(MeteredStream stream) {
      // Block size one record: Compress then skips nothing after the end marker unseen.
      super(stream, RECORD, RECORD, StandardCharsets.UTF_8.name(), false);
      this.stream = stream;
    }

    @Override
    protected byte[] readRecord() throws IOException {
      if (ended) {
        return null;
      }
      long start = stream.position();
      byte[] record = super.readRecord();
      if (record == null) {
        if (stream.position() == start) {
          throw new EOFException("the bundle ends without its end-of-archive marker (truncated?)");
        }
        throw new EOFException("the bundle ends in the middle of a tar header (truncated?)");
      }
      if (isEOFRecord(record)) {
        if (extendedHeaderWithoutEntry != null) {
          throw refused(extendedHeaderWithoutEntry, "is an extended header with no entry after it");
        }
        ended = true;
        requireOnlyZerosAfter(start + RECORD);
        return record;
      }
      lastHeaderName = TarUtils.parseName(record, 0, TarConstants.NAMELEN);
      lastHeaderAt = start;
      if (!TarUtils.verifyCheckSum(record)) {
        throw new OperationException(400, "corrupt tar header at byte " + start + " of the bundle (bad checksum):"
            + " not a bundle, or damaged");
      }
      if (++headersOfThisEntry > MAX_HEADERS_PER_ENTRY) {
        throw refused(lastHeaderName, "follows " + MAX_HEADERS_PER_ENTRY + " extended headers of one entry");
      }
      byte type = record[TYPE_OFFSET];
      if (type == TarConstants.LF_GNUTYPE_SPARSE) {
        throw refused(lastHeaderName, "is a sparse file; a bundle holds only regular files");
      }
      boolean extended = type == TarConstants.LF_PAX_EXTENDED_HEADER_LC || type == TarConstants.LF_PAX_EXTENDED_HEADER_UC
          || type == TarConstants.LF_PAX_GLOBAL_EXTENDED_HEADER || type == TarConstants.LF_GNUTYPE_LONGNAME
          || type == TarConstants.LF_GNUTYPE_LONGLINK;
      if (extended) {
        long size;
        try {
          size = TarUtils.parseOctalOrBinary(record, SIZE_OFFSET, TarConstants.SIZELEN);
        } catch (IllegalArgumentException e) {
          throw new OperationException(400, "damaged tar header " + shown(lastHeaderName) + " at byte " + start
              + " of the bundle: " + e.getMessage(), e);
        }
        if (size > MAX_EXTENDED_HEADER_BYTES) {
          throw refused(lastHeaderName, "is an extended header of " + size + " bytes, more than the "
              + MAX_EXTENDED_HEADER_BYTES + " a bundle's entry can need");
        }
      }
      extendedHeaderWithoutEntry = extended ? lastHeaderName : null;
      return record;
    }

    /** Reads to the end of the file: a tar writer pads its last record with zeros, and only with them. */
    private void requireOnlyZerosAfter(long position) throws IOException {
      stream.unlimited();
      byte[] buffer = new byte[64 << 10];
      long offset = position;
      int read;
      while ((read = stream.read(buffer)) >= 0) {
        for (int i = 0; i < read; i++) {
          if (buffer[i] != 0) {
            throw new OperationException(400, "the bundle has data after its end-of-archive marker (at byte "
                + (offset + i) + "): not one whole bundle");
          }
        }
        offset += read;
      }
    }
  }

  /** The current entry's bytes; the file ending before its size is an error naming the entry. */
  private final class EntryContent extends InputStream {
    private final String name;
    private final long size;
    private final long start;

    EntryContent(String name, long size, long start) {
      this.name = name;
      this.size = size;
      this.start = start;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      try {
        return tar.read(buffer, offset, length);
      } catch (IOException e) {
        throw cut(e);
      }
    }

    void skipRest() throws IOException {
      stream.skipping = true;
      try {
        tar.skip(Long.MAX_VALUE);
      } catch (IOException e) {
        throw cut(e);
      } finally {
        stream.skipping = false;
      }
    }

    /** Compress says "Truncated TAR archive" and no more: this says which entry, and how far it got. */
    private IOException cut(IOException e) {
      if (stream.failed || !stream.ended) {
        return e;
      }
      return new EOFException("the bundle ends in the middle of " + shown(name) + " ("
          + Math.min(size, stream.position() - start) + " of " + size + " bytes)");
    }
  }

  /**
   * The file's bytes as Compress reads them: counts them, notes the end of the file and a failed
   * read (so a complaint of Compress can be told apart from a truncated file or a disk error),
   * refuses to be read past a limit while one entry's headers are read, and seeks while an entry
   * is skipped: Compress skips through commons-io, which reads what it skips (into a buffer it
   * throws away), where a blob already cached should cost no reading of the bundle, as a seek.
   */
  private static final class MeteredStream extends FilterInputStream {
    private long position;
    private long limit = Long.MAX_VALUE;
    boolean skipping;
    boolean ended;
    boolean failed;

    MeteredStream(InputStream in) {
      super(in);
    }

    long position() {
      return position;
    }

    void limitTo(long limit) {
      this.limit = limit;
    }

    void unlimited() {
      limit = Long.MAX_VALUE;
    }

    @Override
    public int read() throws IOException {
      byte[] one = new byte[1];
      return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
    }

    @Override
    public int read(byte[] buffer, int offset, int length) throws IOException {
      if (length == 0) {
        return 0;
      }
      if (position >= limit) {
        throw new OperationException(400, "more than " + MAX_HEADER_BYTES_PER_ENTRY + " bytes of tar headers for one"
            + " entry, at byte " + position + " of the bundle (refused)");
      }
      int allowed = (int) Math.min(length, limit - position);
      int n;
      try {
        n = skipping ? skipInsteadOfReading(allowed) : super.read(buffer, offset, allowed);
      } catch (IOException e) {
        failed = true;
        throw e;
      }
      if (n < 0) {
        ended = true;
      } else {
        position += n;
      }
      return n;
    }

    private int skipInsteadOfReading(int length) throws IOException {
      long skipped = in.skip(length);
      if (skipped > 0) {
        return (int) skipped;
      }
      // Skipping nothing is not the end of the file; reading nothing is.
      return in.read() < 0 ? -1 : 1;
    }

    @Override
    public long skip(long n) throws IOException {
      boolean wasSkipping = skipping;
      skipping = true;
      try {
        return Math.max(0, read(null, 0, (int) Math.min(n, Integer.MAX_VALUE)));
      } finally {
        skipping = wasSkipping;
      }
    }

    @Override
    public boolean markSupported() {
      return false;
    }
  }
}
