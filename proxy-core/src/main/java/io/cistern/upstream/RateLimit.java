package io.cistern.upstream;

import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.Optional;

/**
 * The pull quota an upstream reports on its answers, as Docker Hub does:
 * {@code ratelimit-limit: 100;w=21600} and {@code ratelimit-remaining: 76;w=21600} (requests
 * allowed and left in a window of {@code w} seconds). Other registries send nothing.
 *
 * @param limit requests allowed per window
 * @param remaining requests left in the current window
 * @param window the window's length, or null when the upstream did not say
 */
public record RateLimit(long limit, long remaining, Duration window) {

  public static final String LIMIT_HEADER = "ratelimit-limit";
  public static final String REMAINING_HEADER = "ratelimit-remaining";

  /** Below this share of the limit, the quota is low: {@code remaining} under a tenth of {@code limit}. */
  private static final int LOW_DIVISOR = 10;

  /**
   * The quota {@code headers} report, or empty when they carry none or a malformed one (each
   * header must hold a non-negative whole number, optionally followed by {@code ;w=SECONDS} and
   * other parameters): a header Cistern cannot read is ignored, never an error for the pull.
   */
  public static Optional<RateLimit> from(HttpHeaders headers) {
    Optional<String> limitText = headers.firstValue(LIMIT_HEADER);
    Optional<String> remainingText = headers.firstValue(REMAINING_HEADER);
    if (limitText.isEmpty() || remainingText.isEmpty()) {
      return Optional.empty();
    }
    Quota limit = Quota.parse(limitText.get());
    Quota remaining = Quota.parse(remainingText.get());
    if (limit == null || remaining == null) {
      return Optional.empty();
    }
    Duration window = limit.window() != null ? limit.window() : remaining.window();
    return Optional.of(new RateLimit(limit.amount(), remaining.amount(), window));
  }

  /** Whether fewer than a tenth of the limit's requests are left. */
  public boolean low() {
    return remaining < limit / (double) LOW_DIVISOR;
  }

  /** One header's value: {@code 100;w=21600}. Only its first policy counts when it lists several ({@code 100, 100;w=21600}). */
  private record Quota(long amount, Duration window) {

    static Quota parse(String value) {
      String[] parts = value.split(",", -1)[0].split(";", -1);
      long amount = wholeNumber(parts[0]);
      if (amount < 0) {
        return null;
      }
      Duration window = null;
      for (int i = 1; i < parts.length; i++) {
        String parameter = parts[i].trim();
        if (parameter.startsWith("w=")) {
          long seconds = wholeNumber(parameter.substring(2));
          if (seconds < 0) {
            return null;
          }
          window = Duration.ofSeconds(seconds);
        }
      }
      return new Quota(amount, window);
    }

    /** The non-negative whole number {@code text} holds, or -1. */
    private static long wholeNumber(String text) {
      String trimmed = text.trim();
      if (trimmed.isEmpty() || trimmed.length() > 18 || !trimmed.chars().allMatch(c -> c >= '0' && c <= '9')) {
        return -1;
      }
      return Long.parseLong(trimmed);
    }
  }
}
