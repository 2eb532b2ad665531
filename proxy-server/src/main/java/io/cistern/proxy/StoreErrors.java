package io.cistern.proxy;

import io.cistern.cache.LocalStorageException;
import io.cistern.cache.MetadataException;
import io.cistern.cache.NoRoomException;
import io.cistern.cache.NoRoomOnDiskException;
import io.cistern.cache.TooLargeForCacheException;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.UpstreamErrors;
import java.io.IOException;
import java.io.UncheckedIOException;

/**
 * What a client is told when the cache refuses or fails, as OCI errors. A blob that can never be
 * stored (larger than the cap, no room on the disk, a disk that cannot take it) is a 507 that says
 * it is not cached, so a mirror client fetches it from the upstream itself; no room yet is a 503
 * with the {@code Retry-After} the cache suggests; storage that failed otherwise is a 503.
 */
public final class StoreErrors {

  private StoreErrors() {}

  /** The OCI error for a refusal of room ({@link io.cistern.cache.BlobCache#ingest}); null if {@code failure} is none. */
  public static RegistryException refusal(Throwable failure) {
    Throwable cause = UpstreamErrors.unwrap(failure);
    if (cause instanceof TooLargeForCacheException || cause instanceof NoRoomOnDiskException) {
      return new RegistryException(ErrorCode.UNAVAILABLE, 507, cause.getMessage(), null, cause);
    }
    if (cause instanceof NoRoomException noRoom) {
      return new RegistryException(ErrorCode.UNAVAILABLE, 503, noRoom.getMessage(), noRoom.retryAfter(), noRoom);
    }
    return null;
  }

  /**
   * What clients are told when the cache would not take a download: its room refused
   * ({@link #refusal}), its temp file not created (507), or the cache closing (503).
   */
  static RegistryException notTaken(Digest digest, Throwable failure) {
    Throwable cause = UpstreamErrors.unwrap(failure);
    RegistryException refusal = refusal(cause);
    if (refusal != null) {
      return refusal;
    }
    if (cause instanceof LocalStorageException local) {
      return notStored(digest.toString(), local);
    }
    return new RegistryException(ErrorCode.UNAVAILABLE, 503, "cannot write to the cache", null, cause);
  }

  /** The 507 for a blob whose download the cache's disk could not take ({@code failure}: why). */
  static RegistryException notStored(String what, LocalStorageException failure) {
    return new RegistryException(ErrorCode.UNAVAILABLE, 507, "the cache cannot store " + what + " (" + failure.getMessage()
        + "): it is not cached; fetch it from the upstream", null, failure);
  }

  /** The 503 for storage that failed (the cache's database, its files); null if {@code failure} is no such failure. */
  public static RegistryException storageFailure(Throwable failure) {
    Throwable cause = UpstreamErrors.unwrap(failure);
    if (cause instanceof MetadataException || cause instanceof IOException
        || cause instanceof UncheckedIOException) {
      return new RegistryException(ErrorCode.UNAVAILABLE, 503, "the cache's storage is unavailable", null, cause);
    }
    return null;
  }
}
