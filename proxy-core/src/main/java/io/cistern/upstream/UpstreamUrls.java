package io.cistern.upstream;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The urls of one upstream in the order they are tried, and which one requests start at: the
 * first, until it fails (connection failure, timeout or 5xx); then the next, remembered for
 * {@code failoverMemory} from the failure, after which the first is tried again. A request goes
 * round the urls once from where it starts ({@link #after}) before its failure counts as the
 * upstream's.
 *
 * <p>Concurrency: the choice is one immutable value swapped by compare-and-set. A failure moves
 * the choice on only if it is still at the url that failed, so a burst of requests failing at
 * the same url moves it one step, not one step each; requests that started before the move finish
 * at whatever url they reached. Nothing blocks and nothing is held across a request.
 */
public final class UpstreamUrls {

  /** Requests start at {@code index}, chosen at {@code since}. */
  private record Choice(int index, Instant since) {}

  private final List<URI> urls;
  private final Duration memory;
  private final Clock clock;
  private final AtomicReference<Choice> choice;

  public UpstreamUrls(List<URI> urls, Duration memory, Clock clock) {
    if (urls.isEmpty()) {
      throw new IllegalArgumentException("an upstream needs a url");
    }
    this.urls = List.copyOf(urls);
    this.memory = memory;
    this.clock = clock;
    this.choice = new AtomicReference<>(new Choice(0, clock.instant()));
  }

  public List<URI> all() {
    return urls;
  }

  public int size() {
    return urls.size();
  }

  public URI get(int index) {
    return urls.get(index);
  }

  /**
   * Where a request starts: the url last found healthy, or the first once that has been
   * remembered for {@code failoverMemory}.
   */
  public int start() {
    Choice current = choice.get();
    if (current.index() != 0 && expired(current)) {
      // Back to the first: if it is still down, the next failure moves the choice on again.
      choice.compareAndSet(current, new Choice(0, clock.instant()));
      return 0;
    }
    return current.index();
  }

  /** The url requests start at now, as the metrics and status page show it; changes nothing. */
  public URI current() {
    Choice current = choice.get();
    return urls.get(current.index() != 0 && expired(current) ? 0 : current.index());
  }

  /** The url after {@code index}, going round. */
  public int after(int index) {
    return (index + 1) % urls.size();
  }

  /** The url at {@code index} failed: requests start at the next one from now on. */
  public void failed(int index) {
    if (urls.size() == 1) {
      return;
    }
    Choice current = choice.get();
    if (current.index() == index) {
      choice.compareAndSet(current, new Choice(after(index), clock.instant()));
    }
  }

  private boolean expired(Choice current) {
    return Duration.between(current.since(), clock.instant()).compareTo(memory) >= 0;
  }
}
