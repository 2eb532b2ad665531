package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.RepositoryName;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RepositoryRulesTest {

  @Test
  void denyBeatsAllowAndNoAllowListAllowsWhatIsNotDenied() {
    RepositoryRules rules = new RepositoryRules(globs("library/*", "myorg/**"), globs("myorg/secret/**", "library/internal"));
    assertEquals(Optional.empty(), rules.refusal(RepositoryName.of("library/alpine")));
    assertEquals(Optional.empty(), rules.refusal(RepositoryName.of("myorg/team/app")));
    assertEquals(Optional.of("matches repositories.deny 'myorg/secret/**'"), rules.refusal(RepositoryName.of("myorg/secret/x")),
        "denied, though myorg/** allows it");
    assertEquals(Optional.of("matches repositories.deny 'library/internal'"), rules.refusal(RepositoryName.of("library/internal")));
    assertEquals(Optional.of("matches no glob of repositories.allow"), rules.refusal(RepositoryName.of("someone/app")));

    RepositoryRules denyOnly = new RepositoryRules(null, globs("**/private"));
    assertEquals(Optional.empty(), denyOnly.refusal(RepositoryName.of("someone/app")));
    assertTrue(denyOnly.refusal(RepositoryName.of("someone/private")).isPresent());
    assertEquals(Optional.empty(), RepositoryRules.NONE.refusal(RepositoryName.of("anything/at/all")));
  }

  @Test
  void anEmptyAllowListOrEntryIsAMistakeNotARuleThatRefusesEverything() {
    IllegalArgumentException empty = assertThrows(IllegalArgumentException.class,
        () -> new RepositoryRules(List.of(), List.of()));
    assertTrue(empty.getMessage().startsWith("allow is an empty list"), empty.getMessage());
    IllegalArgumentException emptyEntry = assertThrows(IllegalArgumentException.class,
        () -> new RepositoryRules(null, Arrays.asList(RepositoryGlob.parse("a/*"), null)));
    assertTrue(emptyEntry.getMessage().startsWith("deny[1] is empty"), emptyEntry.getMessage());
  }

  private static List<RepositoryGlob> globs(String... globs) {
    return Arrays.stream(globs).map(RepositoryGlob::parse).toList();
  }
}
