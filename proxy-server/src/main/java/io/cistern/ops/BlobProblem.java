package io.cistern.ops;

/**
 * A stored blob or manifest that failed verification, and what was done about it.
 *
 * @param problem {@code size-mismatch}, {@code digest-mismatch}, {@code missing} (a row without
 *     a file) or {@code unreadable}
 * @param detail what was found ("12 bytes on disk, 2048 recorded", "its bytes hash to sha256:…")
 * @param action {@code found} (not repaired), {@code quarantined} (the file moved, the row
 *     dropped), {@code row-dropped} (no file to move), {@code replaced} (a newer copy was
 *     published meanwhile and left alone), or {@code failed} (see {@code detail})
 * @param quarantined where the file went, or null
 * @param onlyCopy the blob belongs to a pinned image, or no online upstream can give it again: an
 *     operator must restore it (import a bundle that holds it, or pull it once its upstream is
 *     back); its file stays in quarantine
 */
public record BlobProblem(String digest, String problem, String detail, String action, String quarantined,
    boolean onlyCopy) {

  static final String FOUND = "found";
  static final String QUARANTINED = "quarantined";
  static final String ROW_DROPPED = "row-dropped";
  static final String REPLACED = "replaced";
  static final String FAILED = "failed";
}
