package io.cistern.upstream;

import io.cistern.oci.RepositoryName;
import java.util.List;
import java.util.Optional;

/**
 * Which repositories of one upstream Cistern serves: its {@code repositories.allow} and
 * {@code repositories.deny} globs ({@link RepositoryGlob}), matched against the name Cistern asks
 * the upstream for (Docker Hub's official images as {@code library/<name>}). A name a deny glob
 * matches is refused, whatever allows it; with an allow list, so is a name none of its globs match;
 * without one, every name not denied is served.
 *
 * <p>The rules are policy, not a cache miss: a refused name is refused before the cache or the
 * upstream is consulted, for content already cached too.
 */
public final class RepositoryRules {

  /** No rules: every repository is served. */
  public static final RepositoryRules NONE = new RepositoryRules(null, List.of());

  private final List<RepositoryGlob> allow;
  private final List<RepositoryGlob> deny;

  /**
   * @param allow the globs a name must match one of; null for no allow list
   * @param deny the globs no name may match
   * @throws IllegalArgumentException for an empty entry, or an empty allow list, which would
   *     refuse every name: a list left empty (by a template, say) is read as a mistake, not as "nothing"
   */
  public RepositoryRules(List<RepositoryGlob> allow, List<RepositoryGlob> deny) {
    if (allow != null && allow.isEmpty()) {
      throw new IllegalArgumentException("allow is an empty list, which would refuse every repository: leave it out"
          + " to allow all that deny does not refuse, or deny ['**'] to refuse all");
    }
    requireNoEmptyEntry(allow, "allow");
    requireNoEmptyEntry(deny, "deny");
    this.allow = allow == null ? null : List.copyOf(allow);
    this.deny = deny == null ? List.of() : List.copyOf(deny);
  }

  private static void requireNoEmptyEntry(List<RepositoryGlob> globs, String key) {
    for (int i = 0; globs != null && i < globs.size(); i++) {
      if (globs.get(i) == null) {
        throw new IllegalArgumentException(key + "[" + i + "] is empty: a repository glob may not be empty");
      }
    }
  }

  /** Why {@code name} is refused, as a phrase ("matches repositories.deny 'x/**'"); empty when it is served. */
  public Optional<String> refusal(RepositoryName name) {
    for (RepositoryGlob glob : deny) {
      if (glob.matches(name)) {
        return Optional.of("matches repositories.deny '" + glob + "'");
      }
    }
    if (allow == null) {
      return Optional.empty();
    }
    for (RepositoryGlob glob : allow) {
      if (glob.matches(name)) {
        return Optional.empty();
      }
    }
    return Optional.of("matches no glob of repositories.allow");
  }
}
