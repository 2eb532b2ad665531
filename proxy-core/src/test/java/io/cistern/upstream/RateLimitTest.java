package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.http.HttpHeaders;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;

class RateLimitTest {

  private static Optional<RateLimit> of(String limit, String remaining) {
    return RateLimit.from(HttpHeaders.of(Map.of("RateLimit-Limit", List.of(limit), "RateLimit-Remaining", List.of(remaining)),
        (name, value) -> true));
  }

  @Test
  void dockerHubsHeadersGiveTheLimitTheRemainderAndTheWindow() {
    assertEquals(Optional.of(new RateLimit(100, 76, Duration.ofSeconds(21600))), of("100;w=21600", "76;w=21600"));
    assertEquals(Optional.of(new RateLimit(100, 76, null)), of("100", "76"), "no window said");
    assertEquals(Optional.of(new RateLimit(200, 0, Duration.ofSeconds(60))), of(" 200 ; w=60 ", "0"), "the remainder's window may be left out");
    assertEquals(Optional.of(new RateLimit(10, 3, Duration.ofSeconds(1))), of("10;w=1, 50;w=60", "3"),
        "of a list of policies, the first counts");
    assertEquals(Optional.of(new RateLimit(100, 5, Duration.ofSeconds(60))), of("100;w=60;comment=\"x\"", "5;w=60"),
        "other parameters are skipped");
  }

  @Test
  void aMissingOrMalformedHeaderGivesNothing() {
    assertEquals(Optional.empty(), RateLimit.from(HttpHeaders.of(Map.of(), (name, value) -> true)));
    assertEquals(Optional.empty(), RateLimit.from(HttpHeaders.of(Map.of("ratelimit-limit", List.of("100;w=60")),
        (name, value) -> true)), "a limit without a remainder");
    for (String malformed : List.of("", "abc", "-1", "1.5", "100;w=abc", "100;w=-5", "99999999999999999999", ";w=60")) {
      assertEquals(Optional.empty(), of(malformed, "5"), malformed);
      assertEquals(Optional.empty(), of("100", malformed), malformed);
    }
  }

  @Test
  void theQuotaIsLowBelowATenthOfTheLimit() {
    assertTrue(new RateLimit(100, 9, null).low());
    assertFalse(new RateLimit(100, 10, null).low());
    assertTrue(new RateLimit(5, 0, null).low());
    assertFalse(new RateLimit(0, 0, null).low(), "a zero limit says nothing about the remainder");
  }
}
