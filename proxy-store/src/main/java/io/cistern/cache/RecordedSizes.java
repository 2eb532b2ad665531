package io.cistern.cache;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.UserDefinedFileAttributeView;
import java.util.OptionalLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The size each blob file had when it was verified and published, for the check every hit makes:
 * a file cut short (or grown) since is never served as if it were whole.
 *
 * <p>Where the size is kept, and why there: in a user extended attribute of the file itself,
 * {@code user.cistern.size} (decimal), set on the temp file before its rename, so it belongs to
 * that inode and is there the moment the file is. A hit reads it and compares it with the open
 * channel's size: no database, and no memory per blob. (Java reads an attribute by path, so that
 * is an {@code open}, {@code fgetxattr} and {@code close} besides the blob's own {@code open} and
 * {@code fstat}; see bench/jmh {@code BlobHitBenchmark}.) The alternatives cost more: every size
 * in memory is ~100 bytes per blob, 100 MB at a million blobs; the size in the file name would
 * rename every stored file, and the name is the digest everything else derives paths from.
 *
 * <p>A file without the attribute (published by an older Cistern, adopted by recovery, or stored
 * on a file system without user attributes) is checked against its row's size, read through a
 * bounded in-memory cache of sizes. Where attributes work, that size is then written onto the
 * file, so only a file's first hit reads its row; where they do not (probed once, at start), each
 * hit is answered from memory while the blob is among the {@value #REMEMBERED} most recently
 * checked, and costs one indexed row lookup otherwise. A digest's size never changes, so nothing
 * here is ever stale. A file with neither attribute nor row is not checked: there is nothing to
 * compare it with.
 *
 * <p>Concurrency: the attribute belongs to the file and Caffeine's cache is thread-safe, so any
 * number of event loops check at once; two writing the same attribute write the same value.
 */
final class RecordedSizes {

  private static final Logger log = LoggerFactory.getLogger(RecordedSizes.class);

  /** {@code user.cistern.size}: Java's view adds the {@code user.} namespace. */
  static final String ATTRIBUTE = "cistern.size";
  static final int REMEMBERED = 65_536;
  private static final String PROBE_FILE = ".size-attribute-probe";

  /** The sizes in the blobs' rows. */
  @FunctionalInterface
  interface Rows {
    /** The size in {@code digest}'s row; empty when it has none. */
    OptionalLong sizeOf(Digest digest);
  }

  private final Rows rows;
  private final boolean attributes;
  private final Cache<Digest, Long> fromRows = Caffeine.newBuilder().maximumSize(REMEMBERED).build();

  /** @param attributes whether the blob store's file system keeps user extended attributes */
  RecordedSizes(Rows rows, boolean attributes) {
    this.rows = rows;
    this.attributes = attributes;
  }

  /** Whether {@code directory}'s file system keeps user extended attributes: one is written, read back and removed. */
  static boolean supported(Path directory) {
    Path probe = directory.resolve(PROBE_FILE);
    try {
      Files.deleteIfExists(probe);
      Files.createFile(probe);
      write(probe, 1234);
      boolean kept = read(probe).orElse(-1) == 1234;
      if (!kept) {
        log.warn("{} does not keep user extended attributes: cached blobs' sizes are checked against their rows", directory);
      }
      return kept;
    } catch (IOException | UnsupportedOperationException e) {
      log.warn("{} does not keep user extended attributes ({}): cached blobs' sizes are checked against their rows",
          directory, e.getMessage());
      return false;
    } finally {
      try {
        Files.deleteIfExists(probe);
      } catch (IOException ignored) {
        // A probe file left over is deleted by the next start's probe; it is not in a shard.
      }
    }
  }

  /**
   * Records the verified size of a file about to be renamed into place. A failure to write the
   * attribute loses nothing: that file is checked against its row instead.
   */
  void record(Path temp, Digest digest, long size) {
    if (!attributes) {
      fromRows.put(digest, size);
      return;
    }
    try {
      write(temp, size);
    } catch (IOException | UnsupportedOperationException e) {
      log.warn("cannot record the size of {} on its file ({}); it is checked against its row", digest, e.getMessage());
    }
  }

  /** The size recorded for {@code digest}: on its file, else in its row; empty when neither has one. */
  OptionalLong recorded(Digest digest, Path file) {
    if (attributes) {
      OptionalLong onFile = readQuietly(file);
      if (onFile.isPresent()) {
        return onFile;
      }
    }
    Long size = fromRows.getIfPresent(digest);
    if (size == null) {
      OptionalLong inRow = rows.sizeOf(digest);
      if (inRow.isEmpty()) {
        return OptionalLong.empty();
      }
      size = inRow.getAsLong();
      fromRows.put(digest, size);
      if (attributes) {
        backfill(file, digest, size);
      }
    }
    return OptionalLong.of(size);
  }

  /**
   * Writes a size read from the row onto a file that has none: the row holds the size the file
   * was verified at, whatever the file holds now.
   */
  void backfill(Path file, Digest digest, long size) {
    if (!attributes) {
      return;
    }
    try {
      write(file, size);
    } catch (NoSuchFileException gone) {
      // Evicted meanwhile.
    } catch (IOException | UnsupportedOperationException e) {
      log.debug("cannot record the size of {} on its file: {}", digest, e.getMessage());
    }
  }

  /** Writes {@code size} onto a file that has none recorded on it; a verification found it whole at that size. */
  void recordIfAbsent(Path file, Digest digest, long size) {
    if (attributes && readQuietly(file).isEmpty()) {
      backfill(file, digest, size);
    }
  }

  private static OptionalLong readQuietly(Path file) {
    try {
      return read(file);
    } catch (IOException | UnsupportedOperationException e) {
      // No such attribute (ENODATA), or the file went: the row must say.
      return OptionalLong.empty();
    }
  }

  static OptionalLong read(Path file) throws IOException {
    UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
    if (view == null) {
      throw new UnsupportedOperationException("no user attributes");
    }
    ByteBuffer buffer = ByteBuffer.allocate(20);
    view.read(ATTRIBUTE, buffer);
    buffer.flip();
    try {
      return OptionalLong.of(Long.parseLong(StandardCharsets.US_ASCII.decode(buffer).toString()));
    } catch (NumberFormatException damaged) {
      return OptionalLong.empty();
    }
  }

  static void write(Path file, long size) throws IOException {
    UserDefinedFileAttributeView view = Files.getFileAttributeView(file, UserDefinedFileAttributeView.class);
    if (view == null) {
      throw new UnsupportedOperationException("no user attributes");
    }
    view.write(ATTRIBUTE, StandardCharsets.US_ASCII.encode(Long.toString(size)));
  }
}
