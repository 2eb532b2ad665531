package io.cistern.upstream;

import java.util.Locale;

/** What a client asking for a tag past its TTL waits for (the {@code tagRevalidation} key). */
public enum TagRevalidation {

  /** Nothing: the cached mapping is served at once, and one {@code HEAD} revalidates it meanwhile. */
  BACKGROUND,

  /** The revalidation: the answer is what the upstream says the tag points at now. */
  BLOCKING;

  /** The value as configured and as metrics label it: {@code background}, {@code blocking}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  /** @throws IllegalArgumentException for anything but {@code background} or {@code blocking}, in any case */
  public static TagRevalidation parse(String text) {
    for (TagRevalidation mode : values()) {
      if (mode.label().equalsIgnoreCase(text.trim())) {
        return mode;
      }
    }
    throw new IllegalArgumentException("must be background or blocking, not '" + text + "'");
  }
}
