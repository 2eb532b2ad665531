package io.cistern.upstream;

import io.cistern.oci.RepositoryName;

/**
 * One glob of an upstream's repository rules ({@code library/*}, {@code myorg/**}), checked and
 * split into path segments once, when the configuration is read. {@code *} matches any run of
 * characters within one path segment ({@code team-*}, {@code *}); {@code **}, a segment of its own,
 * matches any number of whole segments, none included ({@code myorg/**} matches {@code myorg} and
 * everything under it); every other character matches itself.
 *
 * <p>Matching is the classic two-pointer wildcard scan, on segments for {@code **} and on
 * characters within a segment for {@code *}: no regular expression and no allocation, and at worst
 * the name's length times the glob's, both short (a name is at most
 * {@value RepositoryName#MAX_LENGTH} characters).
 */
public final class RepositoryGlob {

  private static final String ANY_SEGMENTS = "**";

  private final String text;
  private final String[] segments;

  private RepositoryGlob(String text, String[] segments) {
    this.text = text;
    this.segments = segments;
  }

  /**
   * @throws IllegalArgumentException, saying what is wrong in one line, for an empty glob, an
   *     empty path segment, {@code **} inside a segment, or a character no repository name holds
   */
  public static RepositoryGlob parse(String text) {
    if (text == null || text.isEmpty()) {
      throw new IllegalArgumentException("a repository glob may not be empty");
    }
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      boolean allowed = c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-' || c == '/'
          || c == '*';
      if (!allowed) {
        throw new IllegalArgumentException("'" + text + "' holds '" + c + "' at " + i + ": a repository glob is made of"
            + " what repository names are (a-z, 0-9, '.', '_', '-', '/') and '*'");
      }
    }
    String[] segments = text.split("/", -1);
    for (String segment : segments) {
      if (segment.isEmpty()) {
        throw new IllegalArgumentException("'" + text + "' has an empty path segment (a leading, trailing or double '/')");
      }
      if (segment.contains(ANY_SEGMENTS) && !segment.equals(ANY_SEGMENTS)) {
        throw new IllegalArgumentException("'" + text + "': '**' must be a path segment of its own, as in 'myorg/**'");
      }
    }
    return new RepositoryGlob(text, segments);
  }

  public boolean matches(RepositoryName name) {
    return matches(name.value());
  }

  private boolean matches(String name) {
    int end = name.length();
    int glob = 0;
    int at = 0; // where the name's current segment starts; end + 1 once every segment is matched
    int lastAny = -1;
    int lastAnyAt = 0;
    while (at <= end) {
      if (glob < segments.length && segments[glob].equals(ANY_SEGMENTS)) {
        lastAny = glob++;
        lastAnyAt = at;
      } else if (glob < segments.length && segmentMatches(segments[glob], name, at, segmentEnd(name, at))) {
        glob++;
        at = segmentEnd(name, at) + 1;
      } else if (lastAny >= 0) {
        // The last ** takes one more segment; the globs after it start again from there.
        glob = lastAny + 1;
        lastAnyAt = segmentEnd(name, lastAnyAt) + 1;
        at = lastAnyAt;
      } else {
        return false;
      }
    }
    while (glob < segments.length && segments[glob].equals(ANY_SEGMENTS)) {
      glob++;
    }
    return glob == segments.length;
  }

  private static int segmentEnd(String name, int start) {
    int slash = name.indexOf('/', start);
    return slash < 0 ? name.length() : slash;
  }

  /** The same scan within one segment: {@code *} against characters of {@code name[from, to)}. */
  private static boolean segmentMatches(String pattern, String name, int from, int to) {
    int p = 0;
    int n = from;
    int lastStar = -1;
    int lastStarAt = from;
    while (n < to) {
      if (p < pattern.length() && pattern.charAt(p) == '*') {
        lastStar = p++;
        lastStarAt = n;
      } else if (p < pattern.length() && pattern.charAt(p) == name.charAt(n)) {
        p++;
        n++;
      } else if (lastStar >= 0) {
        p = lastStar + 1;
        n = ++lastStarAt;
      } else {
        return false;
      }
    }
    while (p < pattern.length() && pattern.charAt(p) == '*') {
      p++;
    }
    return p == pattern.length();
  }

  /** The glob as written. */
  @Override
  public String toString() {
    return text;
  }
}
