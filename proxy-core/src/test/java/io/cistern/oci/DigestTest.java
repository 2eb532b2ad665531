package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.Test;

class DigestTest {

  private static final String EMPTY_SHA256 = "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

  @Test
  void parsesSha256AndSha512() {
    Digest digest = Digest.parse(EMPTY_SHA256);
    assertEquals(Digest.Algorithm.SHA256, digest.algorithm());
    assertEquals(EMPTY_SHA256, digest.toString());
    Digest sha512 = Digest.parse("sha512:" + "a".repeat(128));
    assertEquals(Digest.Algorithm.SHA512, sha512.algorithm());
  }

  @Test
  void hashesAndVerifiesContent() {
    assertEquals(Digest.parse(EMPTY_SHA256), Digest.sha256Of(new byte[0]));
    assertTrue(Digest.parse(EMPTY_SHA256).matches(new byte[0]));
    assertFalse(Digest.parse(EMPTY_SHA256).matches("x".getBytes(StandardCharsets.UTF_8)));
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",
      "sha256",
      "sha256:",
      ":abc",
      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85",
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b8555",
      "sha256:../../../../etc/passwd",
      "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b85/",
      "md5:d41d8cd98f00b204e9800998ecf8427e",
      "sha384:" + "a",
      "SHA256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  })
  void rejectsAnythingThatIsNotAVerifiableDigest(String text) {
    RegistryException error = assertThrows(RegistryException.class, () -> Digest.parse(text));
    assertEquals(ErrorCode.DIGEST_INVALID, error.code());
    assertEquals(400, error.status());
  }

  @ParameterizedTest
  @ValueSource(strings = {"sha256:" + "0", "sha256:", "sha256:xyz", "md5:abc", "sha999:abcd", "a+b.c_d-e:x", "a:b"})
  void aLowerCaseAlgorithmAndAColonLookLikeADigest(String text) {
    assertTrue(Digest.looksLikeDigest(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "latest", "sha256", ":abc", "SHA256:abc", ".INVALID:x", "-a:b", "a..b:c", "a+:b", "a/b:c", "x y:z"})
  void anythingElseDoesNotLookLikeADigest(String text) {
    assertFalse(Digest.looksLikeDigest(text));
  }

  @Test
  void namesTheReferrersFallbackTag() {
    assertEquals("sha256-" + EMPTY_SHA256.substring(7), Digest.parse(EMPTY_SHA256).referrersTag());
  }
}
