package io.cistern.oci;

/** What follows {@code /manifests/}: either a tag or a digest. */
public sealed interface Reference permits Tag, Digest {

  /**
   * Parses a manifest reference. Anything with a colon is a digest (and must be a valid one);
   * anything else must be a valid tag.
   */
  static Reference parse(String text) {
    if (text != null && Digest.looksLikeDigest(text)) {
      return Digest.parse(text);
    }
    if (!Tag.isValid(text)) {
      throw new RegistryException(ErrorCode.TAG_INVALID, "invalid tag or digest");
    }
    return new Tag(text);
  }
}
