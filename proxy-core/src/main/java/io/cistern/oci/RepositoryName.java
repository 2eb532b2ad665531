package io.cistern.oci;

/**
 * A repository name as the distribution spec defines it: slash-separated path components, each
 * {@code [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*}, at most {@value #MAX_LENGTH} characters in all.
 *
 * <p>Validation is a hand-written linear scan rather than the spec's regular expression, so a
 * hostile name costs time proportional to its length and never triggers backtracking.
 */
public record RepositoryName(String value) implements Comparable<RepositoryName> {

  /** Distribution's limit on the whole name. */
  public static final int MAX_LENGTH = 255;

  public RepositoryName {
    String problem = problemWith(value);
    if (problem != null) {
      throw new RegistryException(ErrorCode.NAME_INVALID, "invalid repository name: " + problem);
    }
  }

  public static RepositoryName of(String value) {
    return new RepositoryName(value);
  }

  /** True when the name has a single component ({@code alpine} rather than {@code library/alpine}). */
  public boolean isSingleComponent() {
    return value.indexOf('/') < 0;
  }

  @Override
  public int compareTo(RepositoryName other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value;
  }

  private static String problemWith(String name) {
    if (name == null || name.isEmpty()) {
      return "empty";
    }
    if (name.length() > MAX_LENGTH) {
      return "longer than " + MAX_LENGTH + " characters";
    }
    int i = 0;
    int end = name.length();
    while (true) {
      // A component: an alphanumeric run, then any number of (separator, alphanumeric run).
      while (true) {
        int runStart = i;
        while (i < end && isLowerAlnum(name.charAt(i))) {
          i++;
        }
        if (i == runStart) {
          return describe(name, i, "expected a lower-case letter or digit");
        }
        if (i == end || name.charAt(i) == '/') {
          break;
        }
        char separator = name.charAt(i);
        if (separator == '.') {
          i++;
        } else if (separator == '_') {
          i += (i + 1 < end && name.charAt(i + 1) == '_') ? 2 : 1;
        } else if (separator == '-') {
          while (i < end && name.charAt(i) == '-') {
            i++;
          }
        } else {
          return describe(name, i, "character not allowed");
        }
      }
      if (i == end) {
        return null;
      }
      i++; // the slash; the next component must not be empty
    }
  }

  private static String describe(String name, int index, String what) {
    if (index >= name.length()) {
      return what + " at the end";
    }
    char c = name.charAt(index);
    if (c >= 'A' && c <= 'Z') {
      return "must be lower case";
    }
    return what + " at position " + index + " ('" + printable(c) + "')";
  }

  private static boolean isLowerAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
  }

  private static String printable(char c) {
    return c < 0x20 || c > 0x7e ? String.format("\\u%04x", (int) c) : String.valueOf(c);
  }
}
