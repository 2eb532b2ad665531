package io.cistern.config;

import java.time.Duration;
import java.time.format.DateTimeParseException;
import java.util.Locale;

/**
 * Durations written for people: {@code 500ms}, {@code 30s}, {@code 5m}, {@code 2h}, {@code 30d}, or
 * ISO-8601. Never negative, and never longer than a count of milliseconds holds (about 292
 * million years), as every timer, timeout and clock sum that takes one counts in those.
 */
public final class Durations {

  private Durations() {}

  /** @throws IllegalArgumentException for anything else, with a message that says what was wrong */
  public static Duration parse(String text) {
    Duration duration;
    try {
      duration = read(text.trim().toLowerCase(Locale.ROOT), text);
      duration.toMillis();
    } catch (ArithmeticException | NumberFormatException tooLong) {
      throw new IllegalArgumentException("the duration '" + text + "' is too long");
    }
    if (duration.isNegative()) {
      throw new IllegalArgumentException("the duration '" + text + "' is negative");
    }
    return duration;
  }

  private static Duration read(String value, String text) {
    if (value.startsWith("p") || value.startsWith("-p")) {
      try {
        return Duration.parse(value.toUpperCase(Locale.ROOT));
      } catch (DateTimeParseException e) {
        throw new IllegalArgumentException("not a duration: '" + text + "'", e);
      }
    }
    int split = 0;
    while (split < value.length() && Character.isDigit(value.charAt(split))) {
      split++;
    }
    if (split == 0) {
      throw new IllegalArgumentException("not a duration: '" + text + "' (e.g. 30s, 5m, 2h, 30d)");
    }
    long amount = Long.parseLong(value.substring(0, split));
    return switch (value.substring(split).trim()) {
      case "ms" -> Duration.ofMillis(amount);
      case "", "s" -> Duration.ofSeconds(amount);
      case "m" -> Duration.ofMinutes(amount);
      case "h" -> Duration.ofHours(amount);
      case "d" -> Duration.ofDays(amount);
      default -> throw new IllegalArgumentException("unknown duration unit in '" + text + "'");
    };
  }
}
