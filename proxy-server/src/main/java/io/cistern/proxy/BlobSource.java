package io.cistern.proxy;

import io.cistern.cache.PartialBlob;
import java.nio.channels.FileChannel;

/** Where a blob response's bytes come from. */
public sealed interface BlobSource {

  /** A cached blob: an open file of known size, owned by the response that writes it. */
  record Stored(FileChannel channel, long size) implements BlobSource {}

  /** A blob still downloading: the response follows its growing temp file. */
  record Downloading(PartialBlob partial) implements BlobSource {}
}
