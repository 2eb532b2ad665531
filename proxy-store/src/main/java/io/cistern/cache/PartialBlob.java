package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Where a download keeps its bytes on the local disk: a temp file beside the blob's final place
 * (made by the disk tier's staging), written by one writer at positions it chooses and read
 * by any number of followers, each through a channel of its own. Publication renames it into
 * place; the inode stays the same, so a follower's channel reads on across the rename.
 */
final class PartialBlob {

  private final Digest digest;
  private final Path tempPath;
  private final Path finalPath;
  private final FileChannel channel;

  private PartialBlob(Digest digest, Path tempPath, Path finalPath, FileChannel channel) {
    this.digest = digest;
    this.tempPath = tempPath;
    this.finalPath = finalPath;
    this.channel = channel;
  }

  /**
   * Opens the empty temp file {@code temp} of a download of {@code digest}, to be published at
   * {@code finalPath}; it is deleted if it cannot be opened.
   *
   * @throws LocalStorageException when it cannot be opened
   */
  static PartialBlob open(Digest digest, Path temp, Path finalPath) throws LocalStorageException {
    try {
      return new PartialBlob(digest, temp, finalPath, FileChannel.open(temp, StandardOpenOption.WRITE));
    } catch (IOException e) {
      deleteQuietly(temp);
      throw new LocalStorageException("cannot create a temp file for " + digest, e);
    }
  }

  Path tempPath() {
    return tempPath;
  }

  /**
   * Writes all of {@code buffer} at {@code position}.
   *
   * @throws LocalStorageException when the file cannot take the bytes (a full disk)
   */
  void write(ByteBuffer buffer, long position) throws LocalStorageException {
    try {
      long at = position;
      while (buffer.hasRemaining()) {
        at += channel.write(buffer, at);
      }
    } catch (IOException e) {
      throw new LocalStorageException("cannot write " + digest + " to the cache", e);
    }
  }

  /** Makes the bytes written durable and closes the writer's channel. */
  void sync() throws LocalStorageException {
    try {
      channel.force(true);
      channel.close();
    } catch (IOException e) {
      throw new LocalStorageException("cannot sync " + digest + " to the cache's disk", e);
    }
  }

  /** Closes the writer's channel and deletes the temp file; a follower's open channel reads on. */
  void discard() {
    try {
      channel.close();
    } catch (IOException ignored) {
      // Its bytes are not wanted.
    }
    deleteQuietly(tempPath);
  }

  /**
   * Opens the content for reading: the temp file while it exists, the published file after. Both
   * are the same inode, so a channel opened on the temp file keeps working after the rename.
   *
   * @throws NoSuchFileException when neither exists: the download failed, or was published and evicted
   */
  FileChannel openForReading() throws IOException {
    try {
      return FileChannel.open(tempPath, StandardOpenOption.READ);
    } catch (NoSuchFileException renamedOrFailed) {
      return FileChannel.open(finalPath, StandardOpenOption.READ);
    }
  }

  private static void deleteQuietly(Path temp) {
    try {
      Files.deleteIfExists(temp);
    } catch (IOException ignored) {
      // The temp file is swept on the next start; the download's failure is what matters here.
    }
  }
}
