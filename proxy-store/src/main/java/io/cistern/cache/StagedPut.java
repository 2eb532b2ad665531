package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;

/**
 * A put into the local disk ({@link DiskTier#putVerified}): the content is written to a temp file
 * of its own as its stream delivers it, and published as a download is, once it has matched its
 * digest; a put that fails deletes its temp file.
 */
final class StagedPut extends CheckedPut {

  private final DiskTier disk;
  private final Digest digest;
  private final PartialBlob file;
  private long kept;

  StagedPut(DiskTier disk, Digest digest, long length, PartialBlob file) {
    super(digest, length);
    this.disk = disk;
    this.digest = digest;
    this.file = file;
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
    disk.moveIntoPlace(file.tempPath(), digest, kept);
    try {
      disk.syncDirectoryOf(digest);
    } catch (IOException e) {
      throw new LocalStorageException("cannot sync the directory of " + digest, e);
    }
    return PutOutcome.STORED;
  }

  @Override
  void discard() {
    file.discard();
  }
}
