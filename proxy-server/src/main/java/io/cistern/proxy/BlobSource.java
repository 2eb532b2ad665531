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

  /**
   * A range of a blob not downloaded that far, relayed from a ranged upstream request as it
   * comes ({@link RangeRelay}): bytes {@code first} to {@code last} of {@code size}, unverified
   * (no part of a blob can be checked against its digest before all of it is in). Its content is
   * owned by the response that writes it.
   */
  record Relayed(BlobContent.Streamed content, long first, long last, long size) implements BlobSource {}
}
