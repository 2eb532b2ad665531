package io.cistern.ops;

import java.util.List;

/**
 * What a long operation (warm, export, import) did.
 *
 * @param images the images it handled, as {@code upstream/repository:tag@digest}
 * @param blobs blobs and manifests fetched, written or imported
 * @param bytes their bytes
 * @param skipped blobs and manifests already there (not fetched or imported again)
 * @param warnings what it passed over, and why
 */
public record Outcome(List<String> images, int blobs, long bytes, int skipped, List<String> warnings) {

  public Outcome {
    images = List.copyOf(images);
    warnings = List.copyOf(warnings);
  }
}
