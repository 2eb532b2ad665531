package io.cistern.http;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelDuplexHandler;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPromise;
import io.netty.channel.FileRegion;
import io.netty.handler.codec.http.HttpContent;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.LastHttpContent;
import java.net.SocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayDeque;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Watches one connection's answers on their way out (status, body bytes, the end of each answer)
 * and reports every request to the {@link RequestListener} once it is over. It sits below the
 * chunked writer, so streamed blobs are counted chunk by chunk as they really leave.
 *
 * <p>Answers leave in request order (see {@link RegistryHandler}), so the exchange being answered
 * is always the oldest one not yet finished. All state is touched on the event loop only.
 */
final class ExchangeRecorder extends ChannelDuplexHandler {

  private static final Logger log = LoggerFactory.getLogger(ExchangeRecorder.class);

  private final RequestListener listener;
  private final ActiveRequests active;
  private final Clock clock;
  private final ArrayDeque<Exchange> unfinished = new ArrayDeque<>();
  private String remote = "-";
  /** The HTTP encoder's place in the pipeline: what is written from it skips the encoder. */
  private ChannelHandlerContext encoder;

  ExchangeRecorder(RequestListener listener, ActiveRequests active, Clock clock) {
    this.listener = listener;
    this.active = active;
    this.clock = clock;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    encoder = ctx.pipeline().context(HttpResponseEncoder.class);
    if (encoder == null) {
      throw new IllegalStateException("the exchange recorder must sit above an HttpResponseEncoder");
    }
  }

  @Override
  public void channelActive(ChannelHandlerContext ctx) throws Exception {
    SocketAddress address = ctx.channel().remoteAddress();
    remote = address instanceof java.net.InetSocketAddress inet ? inet.getAddress().getHostAddress() : String.valueOf(address);
    super.channelActive(ctx);
  }

  /** Starts the record of a request that has just been read; answers must follow in this order. */
  Exchange arrived(HttpRequest request) {
    Exchange exchange = new Exchange(request, System.nanoTime());
    unfinished.addLast(exchange);
    active.enter();
    return exchange;
  }

  @Override
  public void write(ChannelHandlerContext ctx, Object message, ChannelPromise promise) {
    Exchange current = unfinished.peekFirst();
    if (current == null) {
      // An answer completed after its connection closed: already reported as cut short.
      ctx.write(message, promise);
      return;
    }
    if (message instanceof HttpResponse response) {
      current.status = response.status().code();
    }
    if (message instanceof HttpContent content) {
      current.bytes += content.content().readableBytes();
    } else if (message instanceof FileRegion region) {
      current.bytes += region.count();
    }
    if (message instanceof LastHttpContent) {
      unfinished.pollFirst();
      ChannelPromise observed = promise.unvoid();
      observed.addListener(written -> finish(current, written.isSuccess()));
      ctx.write(message, observed);
      return;
    }
    ctx.write(message, promise);
  }

  /**
   * Writes a whole answer already encoded as HTTP bytes ({@link EncodedManifests}) from below the
   * HTTP encoder, and records it as the oldest unfinished request's answer. Only between answers:
   * answers leave one at a time, so the encoder is between messages and the chunked writer holds
   * nothing, and bytes written past them cannot overtake any.
   */
  ChannelFuture writeEncoded(ByteBuf answer, int status, long bodyBytes) {
    ChannelPromise promise = encoder.newPromise();
    Exchange current = unfinished.pollFirst();
    if (current != null) {
      current.status = status;
      current.bytes += bodyBytes;
      promise.addListener(written -> finish(current, written.isSuccess()));
    }
    return encoder.writeAndFlush(answer, promise);
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    Exchange cut;
    while ((cut = unfinished.pollFirst()) != null) {
      finish(cut, false);
    }
    super.channelInactive(ctx);
  }

  private void finish(Exchange exchange, boolean complete) {
    active.exit();
    ServedRequest served = new ServedRequest(
        clock.instant(),
        remote,
        exchange.user(),
        exchange.request().method().name(),
        exchange.request().uri(),
        exchange.endpoint(),
        exchange.status == 0 ? ServedRequest.CLIENT_CLOSED : exchange.status,
        exchange.bytes,
        Duration.ofNanos(System.nanoTime() - exchange.startNanos()),
        exchange.cache(),
        exchange.upstream(),
        complete,
        exchange.fillSource());
    try {
      listener.served(served);
    } catch (RuntimeException e) {
      // A reporting bug must not break the connection that was reported on.
      log.warn("request listener failed", e);
    }
  }
}
