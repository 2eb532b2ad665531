package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import org.junit.jupiter.api.Test;

/** Which url requests start at, as urls fail and time passes. */
class UpstreamUrlsTest {

  private static final List<URI> THREE = List.of(
      URI.create("https://mirror.corp.example"), URI.create("https://backup.corp.example"), URI.create("https://registry.example"));
  private static final Instant T0 = Instant.parse("2026-01-01T00:00:00Z");

  @Test
  void requestsStartAtTheFirstUrlUntilItFailsThenAtTheNextGoingRound() {
    UpstreamUrls urls = new UpstreamUrls(THREE, Duration.ofMinutes(5), Clock.fixed(T0, ZoneOffset.UTC));
    assertEquals(0, urls.start());
    urls.failed(0);
    assertEquals(1, urls.start());
    urls.failed(1);
    assertEquals(2, urls.start());
    assertEquals(THREE.get(2), urls.current());
    urls.failed(2);
    assertEquals(0, urls.start(), "past the last url, round to the first");
  }

  @Test
  void aFailureAtAUrlRequestsNoLongerStartAtMovesNothing() {
    UpstreamUrls urls = new UpstreamUrls(THREE, Duration.ofMinutes(5), Clock.fixed(T0, ZoneOffset.UTC));
    urls.failed(0);
    urls.failed(0);
    assertEquals(1, urls.start(), "requests that failed at the first url together move the choice one step, not one each");
  }

  @Test
  void theUrlThatTookOverIsRememberedForFailoverMemoryFromTheSwitchThenTheFirstIsTriedAgain() {
    Instant[] now = {T0};
    Clock clock = new Clock() {
      @Override
      public Instant instant() {
        return now[0];
      }

      @Override
      public java.time.ZoneId getZone() {
        return ZoneOffset.UTC;
      }

      @Override
      public Clock withZone(java.time.ZoneId zone) {
        return this;
      }
    };
    UpstreamUrls urls = new UpstreamUrls(THREE, Duration.ofMinutes(5), clock);
    now[0] = T0.plusSeconds(60);
    urls.failed(0);
    now[0] = T0.plusSeconds(60 + 299);
    assertEquals(1, urls.start());
    assertEquals(THREE.get(1), urls.current());
    now[0] = T0.plusSeconds(60 + 300);
    assertEquals(THREE.get(0), urls.current(), "what metrics show changes with the clock alone");
    assertEquals(0, urls.start());
    urls.failed(0);
    assertEquals(1, urls.start(), "still down: the next url takes over again, for another failoverMemory");
    now[0] = T0.plusSeconds(60 + 300 + 299);
    assertEquals(1, urls.start());
  }

  @Test
  void anUpstreamWithOneUrlAlwaysStartsThere() {
    UpstreamUrls urls = new UpstreamUrls(List.of(THREE.get(0)), Duration.ofMinutes(5), Clock.fixed(T0, ZoneOffset.UTC));
    urls.failed(0);
    assertEquals(0, urls.start());
  }
}
