package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

/** What a token server's answer is read as: leniently, as the data-bound tree read it before. */
class TokenAnswerTest {

  @Test
  void readsTheTokenAndItsLifetimeSkippingEverythingElse() throws IOException {
    assertEquals(new TokenAnswer("t", 300),
        read("{\"issued_at\":\"2026-01-01T00:00:00Z\",\"x\":{\"deep\":[1,{}]},\"token\":\"t\",\"expires_in\":300}"));
    assertEquals(new TokenAnswer("a", 0), read("{\"access_token\":\"a\"}"), "OAuth2's name for it");
    assertEquals(new TokenAnswer("t", 0), read("{\"token\":\"t\",\"access_token\":\"a\"}"), "token is preferred");
    assertEquals(new TokenAnswer("u", 0), read("{\"token\":\"t\",\"token\":\"u\"}"), "the last duplicate wins");
  }

  @Test
  void aTokenThatIsNotAStringIsItsTextOrAbsent() throws IOException {
    assertEquals("5", read("{\"token\":5}").token());
    assertEquals("true", read("{\"token\":true}").token());
    assertEquals("a", read("{\"token\":null,\"access_token\":\"a\"}").token());
    assertEquals("a", read("{\"token\":\"\",\"access_token\":\"a\"}").token());
    assertEquals("a", read("{\"token\":{\"v\":\"x\"},\"access_token\":\"a\"}").token());
    assertEquals("", read("{\"token\":[\"x\"]}").token());
  }

  @Test
  void theLifetimeIsWholeSecondsOrNothing() throws IOException {
    assertEquals(300, read("{\"expires_in\":\"300\"}").expiresInSeconds());
    assertEquals(300, read("{\"expires_in\":\" 300 \"}").expiresInSeconds());
    assertEquals(300, read("{\"expires_in\":300.7}").expiresInSeconds());
    assertEquals(300, read("{\"expires_in\":\"300.5\"}").expiresInSeconds());
    assertEquals(-5, read("{\"expires_in\":-5}").expiresInSeconds(), "the cache takes it as no lifetime");
    for (String none : new String[] {"\"x\"", "null", "{}", "[300]", "true", "99999999999999999999", "\"NaN\"", "\"Infinity\""}) {
      assertEquals(0, read("{\"token\":\"t\",\"expires_in\":" + none + "}").expiresInSeconds(), none);
    }
  }

  @Test
  void jsonOfAnotherShapeHoldsNoToken() throws IOException {
    for (String answer : new String[] {"", "null", "[]", "\"t\"", "12"}) {
      assertEquals(new TokenAnswer("", 0), read(answer), answer);
    }
    assertEquals("t", read("{\"token\":\"t\"} trailing").token(), "nothing is read past the answer");
  }

  @Test
  void onlyMalformedJsonIsAnError() {
    for (String answer : new String[] {"not json", "{\"token\":\"t\",\"x\":[1,}", "[1,", "{\"token\":"}) {
      assertThrows(IOException.class, () -> read(answer), answer);
    }
  }

  private static TokenAnswer read(String json) throws IOException {
    return TokenAnswer.read(json.getBytes(StandardCharsets.UTF_8));
  }
}
