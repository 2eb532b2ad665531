package io.cistern.cache;

import java.sql.SQLException;

/**
 * A metadata database failure; request paths answer it as 503, never as a stack trace. When the
 * database could not be written (SQLite's read-only, I/O, corrupt, full, cannot-open and
 * not-a-database errors) its cause is a {@link LocalStorageException} around SQLite's own error.
 */
public final class MetadataException extends RuntimeException {

  MetadataException(SQLException cause) {
    super("metadata database: " + cause.getMessage(), MetadataDatabase.isLocalStorageFailure(cause)
        ? new LocalStorageException("the metadata database cannot be written", cause)
        : cause);
  }
}
