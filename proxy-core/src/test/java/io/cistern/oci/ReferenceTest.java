package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class ReferenceTest {

  @ParameterizedTest
  @ValueSource(strings = {"latest", "1.0", "v1.2.3-rc.1", "_private", "A_b-C.9"})
  void validTagsAreTags(String text) {
    assertEquals(new Tag(text), Reference.parse(text));
  }

  @Test
  void aTagIsAtMost128Characters() {
    assertInstanceOf(Tag.class, Reference.parse("a".repeat(128)));
    assertEquals(ErrorCode.MANIFEST_UNKNOWN,
        assertThrows(RegistryException.class, () -> Reference.parse("a".repeat(129))).code());
  }

  @Test
  void aDigestShapedReferenceIsADigest() {
    String digest = "sha256:" + "0".repeat(64);
    assertEquals(Digest.parse(digest), Reference.parse(digest));
  }

  @ParameterizedTest
  @ValueSource(strings = {"sha256:nothex", "sha256:xyz", "sha256:", "md5:abc", "sha999:abcd", "a:b"})
  void aMalformedDigestIsDigestInvalid(String text) {
    RegistryException error = assertThrows(RegistryException.class, () -> Reference.parse(text));
    assertEquals(ErrorCode.DIGEST_INVALID, error.code());
    assertEquals(400, error.status());
  }

  // Neither a tag nor shaped like a digest: no registry can hold a manifest by that name.
  @ParameterizedTest
  @ValueSource(strings = {"", ".INVALID_MANIFEST_NAME", ".hidden", "-dash", "a/b", "a b", "..", "tag%20", "ünicode",
      ":abc", "SHA256:abc", ".x:y"})
  void neitherATagNorADigestIsManifestUnknown(String text) {
    RegistryException error = assertThrows(RegistryException.class, () -> Reference.parse(text));
    assertEquals(ErrorCode.MANIFEST_UNKNOWN, error.code());
    assertEquals(404, error.status());
  }
}
