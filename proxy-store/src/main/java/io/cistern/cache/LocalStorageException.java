package io.cistern.cache;

import java.io.IOException;
import java.util.Optional;

/**
 * The cache could not write its own files or its database: the disk is full or failing (ENOSPC,
 * EIO, a read-only file system, SQLite's "database or disk is full"). The failure is local: the
 * upstream sent nothing wrong, so a download that meets it is not retried from the upstream, and
 * clients are never told that the upstream failed. The message keeps the operating system's or
 * SQLite's own words, so a log line says "No space left on device", not a symptom of it.
 */
public final class LocalStorageException extends IOException {

  public LocalStorageException(String what, Throwable cause) {
    super(what + ": " + (cause.getMessage() != null ? cause.getMessage() : cause.toString()), cause);
  }

  /** The local storage failure among {@code failure} and its causes, if there is one. */
  public static Optional<LocalStorageException> in(Throwable failure) {
    // Bounded: a cause chain is short, and a cyclic one must not hang a download's end.
    Throwable cause = failure;
    for (int depth = 0; cause != null && depth < 32; depth++, cause = cause.getCause()) {
      if (cause instanceof LocalStorageException local) {
        return Optional.of(local);
      }
    }
    return Optional.empty();
  }
}
