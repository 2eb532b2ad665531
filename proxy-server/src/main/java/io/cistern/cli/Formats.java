package io.cistern.cli;

import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/** How the CLI writes sizes, rates, times and tables for people. */
final class Formats {

  private static final String[] UNITS = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  private static final DateTimeFormatter TIME = DateTimeFormatter.ofPattern("yyyy-MM-dd HH:mm:ss'Z'").withZone(ZoneOffset.UTC);

  private Formats() {}

  static String bytes(long bytes) {
    double scaled = bytes;
    int unit = 0;
    while (Math.abs(scaled) >= 1024 && unit < UNITS.length - 1) {
      scaled /= 1024;
      unit++;
    }
    return unit == 0 ? bytes + " B" : String.format(Locale.ROOT, "%.1f %s", scaled, UNITS[unit]);
  }

  static String rate(long bytesPerSecond) {
    return bytes(bytesPerSecond) + "/s";
  }

  static String percent(double ratio) {
    return String.format(Locale.ROOT, "%.1f %%", ratio * 100);
  }

  static String time(String isoInstant) {
    Instant instant = Instant.parse(isoInstant);
    return instant.toEpochMilli() == 0 ? "-" : TIME.format(instant);
  }

  /** {@code sha256:0123456789ab}: enough of a digest to tell images apart in a listing. */
  static String shortDigest(String digest) {
    int colon = digest.indexOf(':');
    return digest.length() > colon + 13 ? digest.substring(0, colon + 13) : digest;
  }

  /** Left-aligned columns, the last ones right-aligned from {@code firstRightAligned}, two spaces apart. */
  static List<String> table(List<String[]> rows, int firstRightAligned) {
    int columns = rows.get(0).length;
    int[] widths = new int[columns];
    for (String[] row : rows) {
      for (int i = 0; i < columns; i++) {
        widths[i] = Math.max(widths[i], row[i].length());
      }
    }
    List<String> lines = new ArrayList<>();
    for (String[] row : rows) {
      StringBuilder line = new StringBuilder();
      for (int i = 0; i < columns; i++) {
        String cell = row[i];
        String padding = " ".repeat(widths[i] - cell.length());
        line.append(i > 0 ? "  " : "").append(i >= firstRightAligned ? padding + cell : cell + padding);
      }
      lines.add(line.toString().stripTrailing());
    }
    return lines;
  }
}
