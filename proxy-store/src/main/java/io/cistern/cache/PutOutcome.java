package io.cistern.cache;

/**
 * How a conditional put of verified content into a tier ended ({@link BlobTier#putVerified}); both
 * mean the tier now holds the blob.
 */
public enum PutOutcome {
  /** This call wrote it. */
  STORED,
  /**
   * It was there already: another writer won the race, or an earlier attempt of this very call
   * landed before its answer was lost (an object store's 412 to the client's retry). The key
   * names the content, so whatever holds it is right.
   */
  ALREADY_PRESENT
}
