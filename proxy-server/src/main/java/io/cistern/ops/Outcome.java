package io.cistern.ops;

import java.util.List;

/**
 * What a long operation (warm, export, import, verify) did.
 *
 * @param images the images it handled, as {@code upstream/repository:tag@digest}
 * @param blobs blobs and manifests fetched, written, imported or verified
 * @param bytes their bytes
 * @param skipped blobs and manifests already there (not fetched or imported again)
 * @param warnings what it passed over, and why
 * @param problems what a verification found damaged, and what it did; empty for the others
 */
public record Outcome(List<String> images, int blobs, long bytes, int skipped, List<String> warnings,
    List<BlobProblem> problems) {

  public Outcome {
    images = List.copyOf(images);
    warnings = List.copyOf(warnings);
    // Null in an answer from an older server, which had no verification.
    problems = problems == null ? List.of() : List.copyOf(problems);
  }

  public Outcome(List<String> images, int blobs, long bytes, int skipped, List<String> warnings) {
    this(images, blobs, bytes, skipped, warnings, List.of());
  }
}
