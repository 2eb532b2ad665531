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
 * sendfile write of a large blob lasts as long as the client takes to read it. A client waiting
 * for the bytes of a download still under way sees none while the upstream is silent; the
 * upstream's own idle timeout ends that far sooner than this one.
 */
final class IdleConnectionCloser extends IdleStateHandler {

  IdleConnectionCloser(Duration timeout) {
    super(true, 0, 0, timeout.toMillis(), TimeUnit.MILLISECONDS);
  }

  @Override
  protected void channelIdle(ChannelHandlerContext ctx, IdleStateEvent event) {
    ctx.close();
  }
}
