package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTimeoutPreemptively;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class RepositoryNameTest {

  @ParameterizedTest
  @ValueSource(strings = {
      "alpine",
      "library/alpine",
      "a/b/c/d",
      "my-app",
      "my--app",
      "my_app",
      "my__app",
      "my.app",
      "0",
      "ghcr.io/org/app",
      "a1/b2.c3_d4-e5",
  })
  void acceptsTheSpecGrammar(String name) {
    assertEquals(name, RepositoryName.of(name).value());
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "",
      "Alpine",
      "library/Alpine",
      "..",
      "a/../b",
      "a/./b",
      "/a",
      "a/",
      "a//b",
      "a___b",
      "-a",
      "a-",
      "a.",
      ".a",
      "a._b",
      "a_.b",
      "a-.b",
      "a b",
      "a%2fb",
      "a:b",
      "a\\b",
      "a\u0000b",
      "é",
  })
  void rejectsWhatTheGrammarForbids(String name) {
    RegistryException error = assertThrows(RegistryException.class, () -> RepositoryName.of(name));
    assertEquals(ErrorCode.NAME_INVALID, error.code());
    assertEquals(400, error.status());
  }

  @Test
  void limitsTheWholeNameTo255Characters() {
    String longest = "a".repeat(255);
    assertEquals(longest, RepositoryName.of(longest).value());
    assertThrows(RegistryException.class, () -> RepositoryName.of("a".repeat(256)));
  }

  @Test
  void saysWhyAnUpperCaseNameIsWrong() {
    RegistryException error = assertThrows(RegistryException.class, () -> RepositoryName.of("Library/alpine"));
    assertTrue(error.getMessage().contains("lower case"), error.getMessage());
  }

  @Test
  void aHostileNameCostsLinearTime() {
    // A regular expression with nested quantifiers would backtrack here for a very long time.
    String hostile = "a-".repeat(120) + "!";
    assertTimeoutPreemptively(Duration.ofSeconds(5), () -> assertThrows(RegistryException.class, () -> RepositoryName.of(hostile)));
  }

  @Test
  void knowsItsShape() {
    assertTrue(RepositoryName.of("alpine").isSingleComponent());
    assertFalse(RepositoryName.of("library/alpine").isSingleComponent());
  }
}
