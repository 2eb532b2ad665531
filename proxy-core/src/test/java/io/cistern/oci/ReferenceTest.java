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
    assertThrows(RegistryException.class, () -> Reference.parse("a".repeat(129)));
  }

  @Test
  void anythingWithAColonIsADigest() {
    String digest = "sha256:" + "0".repeat(64);
    assertEquals(Digest.parse(digest), Reference.parse(digest));
    RegistryException error = assertThrows(RegistryException.class, () -> Reference.parse("sha256:nothex"));
    assertEquals(ErrorCode.DIGEST_INVALID, error.code());
  }

  @ParameterizedTest
  @ValueSource(strings = {"", ".hidden", "-dash", "a/b", "a b", "..", "tag%20", "ünicode"})
  void invalidTagsAreRefused(String text) {
    RegistryException error = assertThrows(RegistryException.class, () -> Reference.parse(text));
    assertEquals(ErrorCode.TAG_INVALID, error.code());
    assertEquals(400, error.status());
  }
}
