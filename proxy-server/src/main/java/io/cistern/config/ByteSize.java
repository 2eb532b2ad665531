package io.cistern.config;

import java.util.Locale;

/** A size written for people: {@code 50GiB}, {@code 512MiB}, {@code 10GB}, {@code 1048576}. */
public record ByteSize(long bytes) {

  public static ByteSize parse(String text) {
    String value = text.trim().replace("_", "");
    int split = 0;
    while (split < value.length() && (Character.isDigit(value.charAt(split)) || value.charAt(split) == '.')) {
      split++;
    }
    if (split == 0) {
      throw new IllegalArgumentException("not a size: '" + text + "' (e.g. 50GiB, 512MiB)");
    }
    double number = Double.parseDouble(value.substring(0, split));
    String unit = value.substring(split).trim().toLowerCase(Locale.ROOT);
    long multiplier = switch (unit) {
      case "", "b" -> 1L;
      case "k", "kb" -> 1000L;
      case "m", "mb" -> 1000L * 1000;
      case "g", "gb" -> 1000L * 1000 * 1000;
      case "t", "tb" -> 1000L * 1000 * 1000 * 1000;
      case "kib" -> 1L << 10;
      case "mib" -> 1L << 20;
      case "gib" -> 1L << 30;
      case "tib" -> 1L << 40;
      default -> throw new IllegalArgumentException("unknown size unit '" + unit + "' in '" + text + "'");
    };
    return new ByteSize((long) (number * multiplier));
  }

  @Override
  public String toString() {
    return bytes + "B";
  }
}
