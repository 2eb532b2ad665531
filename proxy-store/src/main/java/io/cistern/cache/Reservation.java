package io.cistern.cache;

import java.util.concurrent.atomic.AtomicLong;

/**
 * A download's claim on cache bytes, taken before its body is written. It is settled exactly once:
 * committed as stored bytes when the download is published, or released when it is abandoned.
 * Until then its bytes not yet written count against the disk's free space (see {@link DiskBudget}).
 */
final class Reservation {

  private final DiskBudget budget;
  private final long bytes;
  private final AtomicLong unwritten;
  private boolean settled;

  Reservation(DiskBudget budget, long bytes) {
    this.budget = budget;
    this.bytes = bytes;
    this.unwritten = new AtomicLong(bytes);
    budget.willWrite(bytes);
  }

  long bytes() {
    return bytes;
  }

  /** {@code count} bytes of the download reached the disk: free space shows them now. */
  void wrote(long count) {
    long before = unwritten.getAndUpdate(left -> Math.max(0, left - count));
    budget.wrote(Math.min(before, count));
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
    budget.wrote(unwritten.getAndSet(0));
    return true;
  }
}
