package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.config.ConfigLoader;
import io.cistern.testing.RawHttpConnection;
import io.cistern.testing.TestCistern;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Connections of the registry port on which nothing moves are closed after the idle timeout, and
 * only those: a client that only receives (a long blob) or only sends is never idle, nor is one
 * Cistern keeps waiting (see {@code UpstreamOutageTest} for one waiting out an upstream outage).
 * The rules are checked on a channel whose clock the test moves; the wiring on a real listener.
 */
class IdleConnectionTest {

  private static final Duration TIMEOUT = Duration.ofSeconds(10);

  @Test
  void aConnectionSilentBothWaysIsClosedOnceTheTimeoutHasPassed() {
    EmbeddedChannel channel = new EmbeddedChannel(new IdleConnectionCloser(TIMEOUT));
    advance(channel, 9);
    assertTrue(channel.isOpen(), "a silence shorter than the timeout is not idleness");
    advance(channel, 2);
    assertFalse(channel.isOpen());
  }

  @Test
  void aClientThatOnlyReceivesIsNeverIdle() {
    EmbeddedChannel channel = new EmbeddedChannel(new IdleConnectionCloser(TIMEOUT));
    for (int second = 0; second < 60; second += 5) {
      advance(channel, 5);
      channel.writeAndFlush(Unpooled.wrappedBuffer(new byte[1024]));
      assertTrue(channel.isOpen(), "still streaming at " + second + " s");
    }
    advance(channel, 11);
    assertFalse(channel.isOpen(), "and idle once the stream stops");
  }

  @Test
  void aClientThatOnlySendsIsNeverIdle() {
    EmbeddedChannel channel = new EmbeddedChannel(new IdleConnectionCloser(TIMEOUT));
    for (int second = 0; second < 60; second += 5) {
      advance(channel, 5);
      channel.writeInbound(Unpooled.wrappedBuffer(new byte[16]));
      assertTrue(channel.isOpen(), "still sending at " + second + " s");
    }
  }

  @Test
  void aConnectionCisternHoldsUpIsNotIdleHoweverLongItWaits() {
    IdleConnectionCloser closer = new IdleConnectionCloser(TIMEOUT);
    EmbeddedChannel channel = new EmbeddedChannel(closer);
    closer.cisternWaiting();
    closer.cisternWaiting();
    advance(channel, 60);
    closer.cisternResumed();
    advance(channel, 60);
    assertTrue(channel.isOpen(), "an answer being prepared, or a download being followed, is not the client's silence");
    closer.cisternResumed();
    advance(channel, 9);
    assertTrue(channel.isOpen(), "the client gets a whole timeout once the wait ends");
    advance(channel, 2);
    assertFalse(channel.isOpen());
  }

  @Test
  void theRegistryListenerClosesConnectionsLeftIdle(@TempDir Path temp) throws Exception {
    try (TestCistern cistern = TestCistern.fromYaml(temp, """
        server:
          idleTimeout: 300ms
        cache:
          directory: %s
        upstreams:
          - host: upstream.test
            url: %s
        """.formatted(temp.resolve("cache"), URI.create("http://127.0.0.1:9")))) {
      try (RawHttpConnection silent = RawHttpConnection.open(cistern.port(), 0)) {
        assertTrue(silent.awaitClose(Duration.ofSeconds(30)), "a client that never sends is let go");
      }
      try (RawHttpConnection answered = RawHttpConnection.open(cistern.port(), 0)) {
        answered.send("GET", "/v2/");
        RawHttpConnection.Head head = answered.readHead();
        assertEquals(200, head.status());
        answered.readUpTo(head.contentLength());
        assertTrue(answered.awaitClose(Duration.ofSeconds(30)), "a kept-alive connection left unused is let go");
      }
    }
  }

  @Test
  void theDefaultTimeoutIsFiveMinutes() {
    assertEquals(Duration.ofMinutes(5), new ConfigLoader().load(null, Map.of()).server().idleTimeout());
  }

  private static void advance(EmbeddedChannel channel, long seconds) {
    channel.advanceTimeBy(seconds, TimeUnit.SECONDS);
    channel.runPendingTasks();
    channel.runScheduledPendingTasks();
  }
}
