package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.Channel;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Optional;
import java.util.UUID;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

/**
 * Where a blob is stored: {@code <root>/<algorithm>/<first two hex>/<hex>}, one file per digest,
 * manifests included. Paths are built only from a parsed {@link Digest}, whose hex part is checked,
 * so no input can name a file outside the root.
 *
 * <p>Publication is atomic: content is written to {@code <hex>.<random>.partial} in the same
 * directory as its target, fsynced, then renamed over the target, and the directory is fsynced.
 * A reader opens either no file or a complete, verified one. Temp files left by a crash are found
 * by {@link #forEachPartial} and deleted on the next start.
 */
public final class BlobStore {

  static final String PARTIAL_SUFFIX = ".partial";

  private final Path root;

  public BlobStore(Path root) {
    this.root = root;
    try {
      Files.createDirectories(root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the blob directory " + root, e);
    }
  }

  public Path root() {
    return root;
  }

  public Path pathOf(Digest digest) {
    return root.resolve(digest.algorithm().prefix()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
  }

  /** Opens a stored blob for reading; empty when it is not stored. The caller closes the channel. */
  public Optional<FileChannel> open(Digest digest) {
    try {
      return Optional.of(FileChannel.open(pathOf(digest), StandardOpenOption.READ));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open blob " + digest, e);
    }
  }

  public boolean contains(Digest digest) {
    return Files.isRegularFile(pathOf(digest));
  }

  /** The stored size, or empty when the blob is not stored. */
  public Optional<Long> sizeOf(Digest digest) {
    try {
      return Optional.of(Files.size(pathOf(digest)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot stat blob " + digest, e);
    }
  }

  /** Creates an empty temp file beside the target of {@code digest}. */
  Path createPartial(Digest digest) throws IOException {
    Path target = pathOf(digest);
    Files.createDirectories(target.getParent());
    while (true) {
      Path partial = target.resolveSibling(digest.hex() + "." + UUID.randomUUID() + PARTIAL_SUFFIX);
      try {
        return Files.createFile(partial);
      } catch (FileAlreadyExistsException collision) {
        // A random UUID collided; draw another.
      }
    }
  }

  /**
   * Moves a complete, already fsynced temp file into place. The rename replaces an existing file
   * atomically, so concurrent readers see one or the other; it is durable only after
   * {@link #syncDirectoryOf}. If it throws, nothing was moved.
   */
  void rename(Path partial, Digest digest) throws IOException {
    try {
      Files.move(partial, pathOf(digest), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new IOException("the cache directory must be on a file system with atomic rename", e);
    }
  }

  /** Makes a rename into the directory of {@code digest}'s file durable. */
  void syncDirectoryOf(Digest digest) throws IOException {
    fsyncDirectory(pathOf(digest).getParent());
  }

  /** Writes small content (a manifest) to a temp file beside its target and fsyncs it; the temp file goes on failure. */
  Path writePartial(Digest digest, byte[] bytes) throws IOException {
    Path partial = createPartial(digest);
    try (FileChannel channel = FileChannel.open(partial, StandardOpenOption.WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      while (buffer.hasRemaining()) {
        channel.write(buffer);
      }
      channel.force(true);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(partial);
      throw e;
    }
    return partial;
  }

  /** Writes small content atomically and durably, unrecorded: for tools and tests that build a store by hand. */
  void write(Digest digest, byte[] bytes) throws IOException {
    Path partial = writePartial(digest, bytes);
    try {
      rename(partial, digest);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(partial);
      throw e;
    }
    syncDirectoryOf(digest);
  }

  /** Unlinks a stored blob. Readers that hold it open keep reading the old inode. */
  boolean delete(Digest digest) throws IOException {
    return Files.deleteIfExists(pathOf(digest));
  }

  /** Whether any file, published or temp, is stored: stops at the first one found. */
  boolean holdsFiles() throws IOException {
    for (Digest.Algorithm algorithm : Digest.Algorithm.values()) {
      Path algorithmDir = root.resolve(algorithm.prefix());
      if (!Files.isDirectory(algorithmDir)) {
        continue;
      }
      try (DirectoryStream<Path> shards = Files.newDirectoryStream(algorithmDir)) {
        for (Path shard : shards) {
          if (Files.isDirectory(shard)) {
            try (DirectoryStream<Path> files = Files.newDirectoryStream(shard)) {
              if (files.iterator().hasNext()) {
                return true;
              }
            }
          }
        }
      }
    }
    return false;
  }

  /** Visits every shard directory ({@code <algorithm>/<2 hex>}) with its algorithm. */
  void forEachShard(BiConsumer<Digest.Algorithm, Path> visitor) throws IOException {
    for (Digest.Algorithm algorithm : Digest.Algorithm.values()) {
      Path algorithmDir = root.resolve(algorithm.prefix());
      if (!Files.isDirectory(algorithmDir)) {
        continue;
      }
      try (DirectoryStream<Path> shards = Files.newDirectoryStream(algorithmDir)) {
        for (Path shard : shards) {
          if (Files.isDirectory(shard)) {
            visitor.accept(algorithm, shard);
          }
        }
      }
    }
  }

  /** Visits every temp file left in the store. */
  void forEachPartial(Consumer<Path> visitor) throws IOException {
    forEachShard((algorithm, shard) -> {
      try (DirectoryStream<Path> partials = Files.newDirectoryStream(shard, "*" + PARTIAL_SUFFIX)) {
        partials.forEach(visitor);
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    });
  }

  /**
   * Closes a channel through which nothing was written (a blob opened for reading, the lock
   * file): a failure to close it loses nothing, so it is not reported. Null is ignored.
   */
  public static void closeQuietly(Channel channel) {
    if (channel == null) {
      return;
    }
    try {
      channel.close();
    } catch (IOException ignored) {
      // Nothing was written through it.
    }
  }

  static void fsyncDirectory(Path directory) throws IOException {
    try (FileChannel channel = FileChannel.open(directory, StandardOpenOption.READ)) {
      channel.force(true);
    }
  }
}
