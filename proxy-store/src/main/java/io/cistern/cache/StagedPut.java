package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;

/**
 * A put into the local disk ({@link DiskTier#putVerified}): the content is written to a temp file
 * of its own as its stream delivers it, and published as a download is, once it has matched its
 * digest; a put that fails deletes its temp file.
 */
final class StagedPut extends CheckedPut {

  /** Makes a verified, synced temp file of {@code size} bytes the blob. */
  @FunctionalInterface
  interface Publication {
    void publish(Path temp, long size) throws IOException;
  }

  private final PartialBlob file;
  private final Publication publication;
  private long kept;

  StagedPut(Digest digest, long length, PartialBlob file, Publication publication) {
    super(digest, length);
    this.file = file;
    this.publication = publication;
  }

  @Override
  void keep(ByteBuffer buffer) throws IOException {
    int count = buffer.remaining();
    file.write(buffer, kept);
    kept += count;
  }

  @Override
  PutOutcome store() throws IOException {
    file.sync();
    publication.publish(file.tempPath(), kept);
    return PutOutcome.STORED;
  }

  @Override
  void discard() {
    file.discard();
  }
}
