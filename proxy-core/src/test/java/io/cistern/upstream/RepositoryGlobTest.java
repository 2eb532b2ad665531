package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.RepositoryName;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

class RepositoryGlobTest {

  @ParameterizedTest(name = "{0} ~ {1}: {2}")
  @CsvSource(delimiter = '|', textBlock = """
      library/*          | library/alpine          | true
      library/*          | library/alpine/extra    | false
      library/*          | library                 | false
      library/*          | other/alpine            | false
      myorg/**           | myorg/app               | true
      myorg/**           | myorg/team/app/deep     | true
      myorg/**           | myorg                   | true
      myorg/**           | myorgx/app              | false
      myorg/**           | other/myorg/app         | false
      **                 | a                       | true
      **                 | a/b/c/d                 | true
      *                  | a                       | true
      *                  | a/b                     | false
      **/private         | private                 | true
      **/private         | org/team/private        | true
      **/private         | org/private/app         | false
      a/**/b             | a/b                     | true
      a/**/b             | a/x/y/b                 | true
      a/**/b             | a/x/y/c                 | false
      a/**/b/**/c        | a/b/x/b/c               | true
      a/**/b/**/c        | a/c/b                   | false
      team-*/app         | team-blue/app           | true
      team-*/app         | team-a/app              | true
      team-*/app         | team/app                | false
      *-api/*            | billing-api/v2          | true
      *a*b*              | xxaxxbxx                | true
      *a*b*              | xxbxxaxx                | false
      a*a*a              | aaaa                    | true
      a*a*a              | aa                      | false
      library/alpine     | library/alpine          | true
      library/alpine     | library/alpines         | false
      library.x/a_b/c--d | library.x/a_b/c--d      | true
      """)
  void matchesWithinASegmentOrAcrossSegments(String glob, String name, boolean matches) {
    assertEquals(matches, RepositoryGlob.parse(glob).matches(RepositoryName.of(name)));
  }

  @Test
  void aHostileNameAndGlobCostAtMostTheProductOfTheirLengths() {
    // The shape that makes a backtracking regex take exponential time: here one quick scan.
    String name = "a/".repeat(120) + "b";
    RepositoryGlob glob = RepositoryGlob.parse("**/a/**/a/**/a/**/a/**/a/**/c");
    assertFalse(glob.matches(RepositoryName.of(name)));
    assertFalse(RepositoryGlob.parse("*a*a*a*a*a*a*a*c").matches(RepositoryName.of("a".repeat(250))));
  }

  @Test
  void aGlobNoNameCouldMatchIsRefusedSayingWhy() {
    Map<String, String> mistakes = Map.of(
        "", "may not be empty",
        "Library/*", "holds 'L' at 0",
        "library/ alpine", "holds ' ' at 8",
        "library/?", "holds '?'",
        "/library", "empty path segment",
        "library/", "empty path segment",
        "a//b", "empty path segment",
        "myorg/**x", "'**' must be a path segment of its own",
        "***", "'**' must be a path segment of its own");
    for (Map.Entry<String, String> mistake : mistakes.entrySet()) {
      IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
          () -> RepositoryGlob.parse(mistake.getKey()), mistake.getKey());
      assertTrue(refused.getMessage().contains(mistake.getValue()), refused.getMessage());
      assertFalse(refused.getMessage().contains("\n"), "one line");
    }
    assertThrows(IllegalArgumentException.class, () -> RepositoryGlob.parse(null));
  }
}
