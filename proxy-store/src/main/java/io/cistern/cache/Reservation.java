package io.cistern.cache;

/**
 * A download's claim on cache bytes, taken before its body is written. It is settled exactly once:
 * committed as stored bytes when the download is published, or released when it is abandoned.
 */
public final class Reservation {

  private final DiskBudget budget;
  private final long bytes;
  private boolean settled;

  Reservation(DiskBudget budget, long bytes) {
    this.budget = budget;
    this.bytes = bytes;
  }

  public long bytes() {
    return bytes;
  }

  /** The download was published with {@code storedBytes}: they now count as stored. */
  void commit(long storedBytes) {
    if (settle()) {
      budget.settle(bytes, storedBytes);
    }
  }

  /** The download was abandoned: the bytes are free again. */
  void release() {
    if (settle()) {
      budget.settle(bytes, 0);
    }
  }

  private synchronized boolean settle() {
    if (settled) {
      return false;
    }
    settled = true;
    return true;
  }
}
