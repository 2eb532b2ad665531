package io.cistern.http;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.timeout.IdleStateEvent;
import io.netty.handler.timeout.IdleStateHandler;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Closes a registry connection on which nothing has moved, in either direction, for the idle
 * timeout: a client that vanished without closing, one that connects and never sends, one that
 * stopped reading a blob. Silence is measured in both directions at once (all-idle, never
 * reader-idle), so a client receiving a long blob, which sends nothing meanwhile, is not cut; and
 * bytes count as they leave, not when a whole write completes ({@code observeOutput}), since one
 * sendfile write of a large blob lasts as long as the client takes to read it.
 *
 * <p>Only the client's silence counts. While Cistern holds the connection up, preparing an answer
 * or waiting for more of a download the response follows (which may be retrying an upstream that
 * is gone), the connection is not idle, however long that takes: what Cistern waits on is bounded
 * by the upstream's own timeouts and retry window, not by this one. When the wait ends, the
 * client is given a whole timeout again. Waits are marked by the handlers on the connection's
 * event loop, where this handler runs too, so a plain counter needs no synchronisation.
 */
final class IdleConnectionCloser extends IdleStateHandler {

  private int cisternWaits;

  IdleConnectionCloser(Duration timeout) {
    super(true, 0, 0, timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Cistern now holds this connection up; until {@link #cisternResumed()}, it is not idle. Event loop only. */
  void cisternWaiting() {
    cisternWaits++;
  }

  /** Ends a wait begun with {@link #cisternWaiting()}. Event loop only. */
  void cisternResumed() {
    if (--cisternWaits == 0) {
      // The all-idle clock runs from the later of the last read and the last write.
      resetReadTimeout();
    }
  }

  @Override
  protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent event) {
    if (cisternWaits == 0) {
      ctx.close();
    }
  }
}
