package io.cistern.cache;

import io.cistern.oci.Manifest;

/** What the cache holds at a digest asked for as a manifest ({@link BlobCache#lookUpManifest}). */
public sealed interface ManifestLookup {

  /** A stored manifest with its media type. */
  record Found(Manifest manifest) implements ManifestLookup {}

  /**
   * Nothing stored, or a document whose type only the upstream can tell (it names none, and its
   * row has none): the upstream must be asked.
   */
  record Absent() implements ManifestLookup {}

  /**
   * Stored content that cannot be a manifest: larger than any manifest, not JSON, or of another
   * type. The digest names these bytes, so no upstream can have a manifest under it.
   */
  record NotAManifest() implements ManifestLookup {}
}
