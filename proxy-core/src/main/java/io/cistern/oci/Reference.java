package io.cistern.oci;

/** What follows {@code /manifests/}: either a tag or a digest. */
public sealed interface Reference permits Tag, Digest {

  /**
   * Parses a manifest reference. A digest-shaped text ({@link Digest#looksLikeDigest}) must be a
   * valid digest, else {@code DIGEST_INVALID} (400). Any other text that is not a valid tag can
   * name no manifest that exists anywhere, so it is {@code MANIFEST_UNKNOWN} (404): that is what
   * registries answer (CNCF Distribution's routes do not match it) and what the OCI conformance
   * suite expects for {@code .INVALID_MANIFEST_NAME}.
   */
  static Reference parse(String text) {
    if (text != null && Digest.looksLikeDigest(text)) {
      return Digest.parse(text);
    }
    if (!Tag.isValid(text)) {
      throw new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "manifest unknown: the reference is neither a tag nor a digest");
    }
    return new Tag(text);
  }
}
