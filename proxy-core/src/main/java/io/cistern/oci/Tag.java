package io.cistern.oci;

/** A tag: {@code [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}}. */
public record Tag(String value) implements Reference, Comparable<Tag> {

  public static final int MAX_LENGTH = 128;

  public Tag {
    if (!isValid(value)) {
      throw new RegistryException(ErrorCode.TAG_INVALID, "invalid tag");
    }
  }

  public static boolean isValid(String value) {
    if (value == null || value.isEmpty() || value.length() > MAX_LENGTH) {
      return false;
    }
    char first = value.charAt(0);
    if (!(isAlnum(first) || first == '_')) {
      return false;
    }
    for (int i = 1; i < value.length(); i++) {
      char c = value.charAt(i);
      if (!(isAlnum(c) || c == '_' || c == '.' || c == '-')) {
        return false;
      }
    }
    return true;
  }

  @Override
  public int compareTo(Tag other) {
    return value.compareTo(other.value);
  }

  @Override
  public String toString() {
    return value;
  }

  private static boolean isAlnum(char c) {
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
  }
}
