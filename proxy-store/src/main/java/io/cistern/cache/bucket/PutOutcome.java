package io.cistern.cache.bucket;

/** How a conditional create ended; both mean the object is now in the bucket. */
public enum PutOutcome {
  /** This call wrote it. */
  STORED,
  /**
   * It was there already: another writer won the race, or an earlier attempt of this very call
   * landed before its answer was lost (the store's 412 to the client's retry).
   */
  ALREADY_PRESENT
}
