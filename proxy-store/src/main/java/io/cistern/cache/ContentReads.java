package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Optional;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads of stored content, each counted as an access for the LRU order: blob hits (which touch no
 * database: see {@link DiskTier}), HEADs, and manifests read from disk (which also read their row,
 * for the media type, and are hashed whole). A file that fails its check is never served: it is
 * set aside ({@link #setAside}) and the read is a miss.
 */
final class ContentReads {

  private static final Logger log = LoggerFactory.getLogger(ContentReads.class);

  private final DiskTier disk;
  private final BlobRows rows;
  private final Quarantine quarantine;
  private final AccessTracker accesses;
  private final Clock clock;
  private final Executor callbacks;
  private final AtomicLong corruptOnRead = new AtomicLong();

  /** @param callbacks where the row of a damaged file is dropped, off the reader's thread */
  ContentReads(DiskTier disk, BlobRows rows, Quarantine quarantine, AccessTracker accesses, Clock clock,
      Executor callbacks) {
    this.disk = disk;
    this.rows = rows;
    this.quarantine = quarantine;
    this.accesses = accesses;
    this.clock = clock;
    this.callbacks = callbacks;
  }

  /** Opens a stored blob, whole, counting the access; empty when it is not stored or damaged (set aside). */
  Optional<BlobContent.FileRegion> open(Digest digest) {
    Optional<BlobContent.FileRegion> opened = disk.open(digest);
    if (opened.isPresent()) {
      recordAccess(digest);
    }
    return opened;
  }

  /** A stored blob's size, counting the access (a HEAD); empty when it is not stored or damaged. */
  Optional<Long> sizeOf(Digest digest) {
    Optional<Long> size = disk.sizeOf(digest);
    if (size.isPresent()) {
      recordAccess(digest);
    }
    return size;
  }

  /**
   * What is stored at {@code digest}, asked for as a manifest: too large to be one is never read;
   * its bytes are hashed; its media type comes from its row, else from the document.
   */
  ManifestLookup lookUpManifest(Digest digest) {
    Optional<Long> size = disk.storedSize(digest);
    if (size.isEmpty()) {
      return new ManifestLookup.Absent();
    }
    if (size.get() > Manifest.MAX_BYTES) {
      return new ManifestLookup.NotAManifest();
    }
    String mediaType = rows.find(digest).map(BlobRecord::mediaType).orElse(null);
    byte[] bytes;
    try {
      bytes = Files.readAllBytes(disk.pathOf(digest));
    } catch (NoSuchFileException evicted) {
      return new ManifestLookup.Absent();
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read manifest " + digest, e);
    }
    if (!digest.matches(bytes)) {
      // Small enough to hash on every read from disk; a damaged copy is fetched again.
      setAside(digest, "its bytes hash to " + Digest.of(digest.algorithm(), bytes));
      return new ManifestLookup.Absent();
    }
    if (mediaType == null) {
      try {
        mediaType = ManifestDocument.parse(bytes).mediaType();
      } catch (RegistryException notJson) {
        return new ManifestLookup.NotAManifest();
      }
      if (mediaType == null) {
        return new ManifestLookup.Absent();
      }
    }
    if (!MediaTypes.isManifest(mediaType)) {
      return new ManifestLookup.NotAManifest();
    }
    recordAccess(digest);
    return new ManifestLookup.Found(new Manifest(digest, mediaType, bytes));
  }

  void recordAccess(Digest digest) {
    accesses.record(digest, clock.millis());
  }

  /**
   * Sets aside a file a read found damaged: it is moved to quarantine now, on the reader's thread
   * (one rename, like the open before it), so that no one else is served it and a download can
   * publish the blob again; its row goes afterwards on the callbacks executor, unless the blob has
   * been published again by then (see {@link BlobRows#deleteIf}).
   *
   * @throws UncheckedIOException when the file cannot be moved: it must not be served either
   */
  void setAside(Digest digest, String found) {
    corruptOnRead.incrementAndGet();
    Path moved;
    try {
      moved = quarantine.move(digest);
    } catch (IOException e) {
      throw new UncheckedIOException("blob " + digest + " is damaged (" + found + ") and cannot be moved to "
          + quarantine.directory(), e);
    }
    if (moved == null) {
      return;
    }
    log.warn("blob {} is damaged ({}): moved to {}; a pull fetches it again while its upstream is online", digest, found,
        moved);
    try {
      callbacks.execute(() -> {
        try {
          quarantine.sync(digest);
          quarantine.dropRowIfGone(digest);
        } catch (IOException | RuntimeException e) {
          log.warn("the row of damaged blob {} stays until it is stored again or evicted: {}", digest, e.toString());
        }
      });
    } catch (RejectedExecutionException closing) {
      // The row stays, pointing at no file: the next download of the blob replaces it.
    }
  }

  /** How many damaged files reads have found (and set aside) since the cache was opened. */
  long corruptBlobsFoundOnRead() {
    return corruptOnRead.get();
  }
}
