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
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.function.BiConsumer;
import java.util.function.BiPredicate;

/**
 * The node's local disk as a {@link BlobTier}: {@code <root>/<algorithm>/<first two hex>/<hex>}, one
 * file per digest, manifests included. Paths are built only from a parsed {@link Digest}, whose hex
 * part is checked, so no input can name a file outside the root. Its futures are completed before
 * they are returned: a hit costs an {@code open}, an {@code fstat} and the size check, on the
 * caller's thread.
 *
 * <p>A file is handed out only if its size is the one recorded when it was verified
 * ({@link RecordedSizes}); one that is not is handed to {@link SetAside} (the cache moves it to
 * quarantine) and read as absent. What only a disk does, outside the tier's interface: staging
 * (temp files beside their targets), publication by rename, directory fsyncs, and the walks
 * recovery makes.
 *
 * <p>Publication is atomic: content is written to {@code <hex>.<random>.partial} in the same
 * directory as its target, fsynced, given its size attribute, then renamed over the target, and
 * the directory is fsynced. A reader opens either no file or a complete, verified one, and a file
 * it has open stays readable after an eviction unlinks it. Temp files left by a crash are found by
 * recovery's walk of the shards ({@link #forEachShard}) and deleted on the next start.
 */
public final class DiskTier implements BlobTier {

  static final String PARTIAL_SUFFIX = ".partial";

  /** What the cache does with a file whose size is not its recorded one. */
  @FunctionalInterface
  interface SetAside {
    /**
     * Takes the damaged file out of the store ({@code found}: what is wrong with it).
     *
     * @throws UncheckedIOException when it cannot: the file must not be served either
     */
    void setAside(Digest digest, String found);
  }

  private final Path root;
  private final RecordedSizes sizes;
  private final SetAside damaged;

  /**
   * @param rows the sizes of stored blobs' rows, for files that have none recorded on them
   * @param damaged told of each file a read finds damaged
   */
  DiskTier(Path root, RecordedSizes.Rows rows, SetAside damaged) {
    this.root = root;
    try {
      Files.createDirectories(root);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot create the blob directory " + root, e);
    }
    this.sizes = new RecordedSizes(rows, RecordedSizes.supported(root));
    this.damaged = damaged;
  }

  /**
   * A tier with no cache around it, for tools and tests that build a store by hand: files are
   * checked only against sizes recorded on them, and one found damaged is left where it is.
   */
  static DiskTier standalone(Path root) {
    return new DiskTier(root, digest -> OptionalLong.empty(), (digest, found) -> { });
  }

  public Path root() {
    return root;
  }

  public Path pathOf(Digest digest) {
    return pathOf(root, digest);
  }

  /** Where {@code digest} is (or would be) stored under {@code root}. */
  static Path pathOf(Path root, Digest digest) {
    return root.resolve(digest.algorithm().prefix()).resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
  }

  // ---- reading: every file checked against its recorded size ----

  /**
   * Opens a stored blob, whole; empty when it is not stored, or is damaged (then set aside). The
   * caller closes the content.
   */
  Optional<BlobContent.FileRegion> open(Digest digest) {
    FileChannel channel;
    try {
      channel = FileChannel.open(pathOf(digest), StandardOpenOption.READ);
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot open blob " + digest, e);
    }
    long size;
    try {
      size = channel.size();
    } catch (IOException e) {
      closeQuietly(channel);
      throw new UncheckedIOException("cannot stat blob " + digest, e);
    }
    if (!hasRecordedSize(digest, size)) {
      closeQuietly(channel);
      return Optional.empty();
    }
    return Optional.of(new BlobContent.FileRegion(channel, 0, size));
  }

  /** The size of a stored blob; empty when it is not stored, or is damaged (then set aside). */
  Optional<Long> sizeOf(Digest digest) {
    Optional<Long> size = storedSize(digest);
    return size.isPresent() && hasRecordedSize(digest, size.get()) ? size : Optional.empty();
  }

  /** The size of the file stored at {@code digest}, unchecked; empty when there is none. */
  Optional<Long> storedSize(Digest digest) {
    try {
      return Optional.of(Files.size(pathOf(digest)));
    } catch (NoSuchFileException e) {
      return Optional.empty();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot stat blob " + digest, e);
    }
  }

  /** Whether a file is stored at {@code digest} (unchecked). */
  public boolean contains(Digest digest) {
    return Files.isRegularFile(pathOf(digest));
  }

  private boolean hasRecordedSize(Digest digest, long size) {
    OptionalLong recorded = sizes.recorded(digest, pathOf(digest));
    if (recorded.isEmpty() || recorded.getAsLong() == size) {
      return true;
    }
    damaged.setAside(digest, size + " bytes on disk, " + recorded.getAsLong() + " recorded");
    return false;
  }

  /** Records a size a whole read found right on a file that has none recorded (see {@link RecordedSizes}). */
  void recordSizeIfAbsent(Digest digest, long size) {
    sizes.recordIfAbsent(pathOf(digest), digest, size);
  }

  // ---- the tier: completed futures ----

  @Override
  public CompletableFuture<OptionalLong> size(Digest digest) {
    return CompletableFuture.completedFuture(sizeOf(digest).map(OptionalLong::of).orElse(OptionalLong.empty()));
  }

  @Override
  public CompletableFuture<Optional<BlobContent>> read(Digest digest) {
    return CompletableFuture.completedFuture(open(digest).map(BlobContent.class::cast));
  }

  @Override
  public CompletableFuture<Optional<BlobContent>> read(Digest digest, long offset, long length) {
    Optional<BlobContent.FileRegion> whole = open(digest);
    if (whole.isEmpty()) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    BlobContent.FileRegion region = whole.get();
    if (offset < 0 || length < 1 || offset + length > region.length()) {
      region.close();
      return CompletableFuture.failedFuture(new IllegalArgumentException(
          "bytes " + offset + "+" + length + " are not within " + digest + " (" + region.length() + " bytes)"));
    }
    return CompletableFuture.completedFuture(Optional.of(new BlobContent.FileRegion(region.channel(), offset, length)));
  }

  /**
   * Stores verified content as a file of its own, unless one is stored already. The bytes are
   * written to a temp file as the content's stream gives them, hashed, and published as every
   * download is. Two puts of one blob at once may both write it; a reader sees one whole file or
   * the other. The cache itself stores through its downloads and manifest writes, which also
   * record the blob's row; this is for copies between tiers.
   */
  @Override
  public CompletableFuture<PutOutcome> putVerified(Digest digest, BlobContent content) {
    Optional<BlobContent.FileRegion> stored = open(digest);
    if (stored.isPresent()) {
      stored.get().close();
      content.close();
      return CompletableFuture.completedFuture(PutOutcome.ALREADY_PRESENT);
    }
    PartialBlob file;
    try {
      file = stage(digest);
    } catch (LocalStorageException e) {
      content.close();
      return CompletableFuture.failedFuture(e);
    }
    return new StagedPut(digest, content.length(), file, (temp, size) -> publish(temp, digest, size)).consume(content);
  }

  @Override
  public CompletableFuture<Void> delete(Digest digest) {
    try {
      deleteFile(digest);
      return CompletableFuture.completedFuture(null);
    } catch (IOException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  // ---- staging and publication: what only a disk does ----

  /**
   * A temp file for a download of {@code digest}, beside its target.
   *
   * @throws LocalStorageException when it cannot be created
   */
  PartialBlob stage(Digest digest) throws LocalStorageException {
    Path temp;
    try {
      temp = createPartial(digest);
    } catch (IOException e) {
      throw new LocalStorageException("cannot create a temp file for " + digest, e);
    }
    return PartialBlob.open(digest, temp, pathOf(digest));
  }

  /** Creates an empty temp file beside the target of {@code digest}. */
  private Path createPartial(Digest digest) throws IOException {
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
   * Moves a complete, verified, already fsynced temp file of {@code size} bytes into place, with
   * its size recorded on it. The rename replaces an existing file atomically, so concurrent
   * readers see one or the other; it is durable only after {@link #syncDirectoryOf}. If it throws,
   * nothing was moved.
   *
   * @throws LocalStorageException when the rename fails
   */
  void moveIntoPlace(Path partial, Digest digest, long size) throws IOException {
    sizes.record(partial, digest, size);
    try {
      Files.move(partial, pathOf(digest), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (AtomicMoveNotSupportedException e) {
      throw new LocalStorageException("cannot move " + digest + " into place",
          new IOException("the cache directory must be on a file system with atomic rename", e));
    } catch (IOException e) {
      throw new LocalStorageException("cannot move " + digest + " into place", e);
    }
  }

  /**
   * Publishes a verified, synced temp file of {@code size} bytes: moved into place, its directory
   * synced. Unrecorded: the cache's own publications also write the blob's row.
   */
  private void publish(Path temp, Digest digest, long size) throws IOException {
    moveIntoPlace(temp, digest, size);
    try {
      syncDirectoryOf(digest);
    } catch (IOException e) {
      throw new LocalStorageException("cannot sync the directory of " + digest, e);
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

  /**
   * Writes small content atomically and durably, with no row nor size attribute: for tools and
   * tests that build a store by hand.
   */
  void write(Digest digest, byte[] bytes) throws IOException {
    Path partial = writePartial(digest, bytes);
    try {
      Files.move(partial, pathOf(digest), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    } catch (IOException | RuntimeException e) {
      Files.deleteIfExists(partial);
      throw e;
    }
    syncDirectoryOf(digest);
  }

  /** Unlinks a stored blob. Readers that hold it open keep reading the old inode. */
  boolean deleteFile(Digest digest) throws IOException {
    return Files.deleteIfExists(pathOf(digest));
  }

  // ---- recovery's walks ----

  /** Whether any file, published or temp, is stored: stops at the first one found. */
  boolean holdsFiles() throws IOException {
    try {
      return anyShard((algorithm, shard) -> {
        try (DirectoryStream<Path> files = Files.newDirectoryStream(shard)) {
          return files.iterator().hasNext();
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
  }

  /** Visits every shard directory ({@code <algorithm>/<2 hex>}) with its algorithm. */
  void forEachShard(BiConsumer<Digest.Algorithm, Path> visitor) throws IOException {
    anyShard((algorithm, shard) -> {
      visitor.accept(algorithm, shard);
      return false;
    });
  }

  /** Visits shard directories until {@code visitor} says it is done; whether it did. */
  private boolean anyShard(BiPredicate<Digest.Algorithm, Path> visitor) throws IOException {
    for (Digest.Algorithm algorithm : Digest.Algorithm.values()) {
      Path algorithmDir = root.resolve(algorithm.prefix());
      if (!Files.isDirectory(algorithmDir)) {
        continue;
      }
      try (DirectoryStream<Path> shards = Files.newDirectoryStream(algorithmDir)) {
        for (Path shard : shards) {
          if (Files.isDirectory(shard) && visitor.test(algorithm, shard)) {
            return true;
          }
        }
      }
    }
    return false;
  }

  /**
   * Closes a channel through which nothing was written (a blob opened for reading, the lock
   * file): a failure to close it loses nothing, so it is not reported. Null is ignored.
   */
  static void closeQuietly(Channel channel) {
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
