package io.cistern.proxy;

import io.cistern.cache.BlobContent;
import io.cistern.cache.GrowingBlob;

/** Where a blob response's bytes come from. */
public sealed interface BlobSource {

  /** A cached blob, whole: its content, owned by the response that writes it. */
  record Stored(BlobContent content) implements BlobSource {

    public long size() {
      return content.length();
    }
  }

  /** A blob still downloading: the response follows it as it grows. */
  record Downloading(GrowingBlob blob) implements BlobSource {}
}
