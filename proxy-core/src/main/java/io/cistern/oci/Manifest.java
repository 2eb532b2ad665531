package io.cistern.oci;

/**
 * A manifest exactly as an upstream sent it. The bytes are never re-encoded: the digest is of
 * these bytes, so they must go to clients unchanged. The array is shared, not copied; nothing
 * writes to it after construction.
 */
public record Manifest(Digest digest, String mediaType, byte[] bytes) {

  /**
   * The largest manifest Cistern takes: Distribution refuses larger ones, so does Cistern, and
   * anything larger it holds is some other blob.
   */
  public static final int MAX_BYTES = 4 << 20;

  /** Builds a manifest from upstream bytes, hashing them with sha256. */
  public static Manifest of(String mediaType, byte[] bytes) {
    return new Manifest(Digest.sha256Of(bytes), mediaType, bytes);
  }

  public boolean isIndex() {
    return MediaTypes.isIndex(mediaType);
  }

  public ManifestDocument parse() {
    return ManifestDocument.parse(bytes);
  }
}
