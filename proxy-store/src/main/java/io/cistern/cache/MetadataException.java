package io.cistern.cache;

import java.sql.SQLException;
import java.util.Set;
import org.sqlite.SQLiteErrorCode;

/**
 * A metadata database failure; request paths answer it as 503, never as a stack trace. When the
 * database could not be written (SQLite's read-only, I/O, corrupt, full, cannot-open and
 * not-a-database errors) its cause is a {@link LocalStorageException} around SQLite's own error,
 * so that such a failure is never taken for the upstream's.
 */
public final class MetadataException extends RuntimeException {

  /**
   * SQLite's primary result codes that mean its files cannot be written or read back. A busy lock
   * or a pool timeout is not one.
   */
  private static final Set<Integer> LOCAL_STORAGE_CODES = Set.of(
      SQLiteErrorCode.SQLITE_READONLY.code, SQLiteErrorCode.SQLITE_IOERR.code, SQLiteErrorCode.SQLITE_CORRUPT.code,
      SQLiteErrorCode.SQLITE_FULL.code, SQLiteErrorCode.SQLITE_CANTOPEN.code, SQLiteErrorCode.SQLITE_NOTADB.code);

  MetadataException(SQLException cause) {
    super("metadata database: " + cause.getMessage(),
        isLocalStorageFailure(cause) ? new LocalStorageException("the metadata database cannot be written", cause) : cause);
  }

  private static boolean isLocalStorageFailure(SQLException failure) {
    for (Throwable cause = failure; cause != null; cause = cause.getCause()) {
      // Extended codes (SQLITE_IOERR_WRITE) keep the primary code in their low byte.
      if (cause instanceof SQLException sql && LOCAL_STORAGE_CODES.contains(sql.getErrorCode() & 0xff)) {
        return true;
      }
    }
    return false;
  }
}
