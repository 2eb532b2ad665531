package io.cistern.admin;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import io.netty.handler.timeout.IdleStateEvent;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admin connection: finds each request's route, lets the {@link AdminGuard} vet it, and
 * writes the endpoint's answer. Requests are answered one at a time: reading pauses while an
 * answer is pending. Every field is touched only on the connection's event loop.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

  private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);

  private final AdminRoutes routes;
  private final AdminGuard guard;
  /** While an answer is being computed, silence on the connection is the server's, not the client's. */
  private boolean answering;

  AdminHandler(AdminRoutes routes, AdminGuard guard) {
    this.routes = routes;
    this.guard = guard;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
    boolean head = request.method().equals(HttpMethod.HEAD);
    CompletableFuture<AdminResponse> answer;
    try {
      answer = route(ctx, request);
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    answering = true;
    ctx.channel().config().setAutoRead(false);
    answer.whenCompleteAsync((response, failure) -> {
      if (failure != null) {
        log.error("admin endpoint {} failed", request.uri(), failure);
        response = AdminResponse.error(500, "internal error");
      }
      write(ctx, response, keepAlive, head);
    }, ctx.executor());
  }

  private CompletableFuture<AdminResponse> route(ChannelHandlerContext ctx, FullHttpRequest request) {
    if (request.decoderResult().isFailure()) {
      return answer(AdminResponse.error(400, "malformed request"));
    }
    QueryStringDecoder query = new QueryStringDecoder(request.uri());
    String path;
    Map<String, List<String>> parameters;
    try {
      // Both decode lazily, and throw on a bad percent escape: a client's mistake, not ours.
      path = query.path();
      parameters = query.parameters();
    } catch (IllegalArgumentException e) {
      return answer(AdminResponse.error(400, "malformed request URI: " + e.getMessage()));
    }
    Optional<Map<String, AdminRoutes.Route>> methods = routes.find(path);
    if (methods.isEmpty()) {
      return answer(AdminResponse.error(404, "no such endpoint; try " + routes.paths()));
    }
    String method = request.method().name();
    AdminRoutes.Route route = methods.get().get(method.equals("HEAD") ? "GET" : method);
    if (route == null) {
      return answer(AdminResponse.error(405, "allowed: " + methods.get().keySet()));
    }
    HttpHeaders headers = request.headers();
    AdminGuard.Caller caller = new AdminGuard.Caller(peer(ctx), headers.get(HttpHeaderNames.HOST),
        headers.get(HttpHeaderNames.ORIGIN), headers.get(HttpHeaderNames.AUTHORIZATION),
        headers.get(HttpHeaderNames.CONTENT_TYPE));
    Optional<AdminResponse> refusal = guard.refusal(method, route.access(), caller);
    if (refusal.isPresent()) {
      return answer(refusal.get());
    }
    return route.endpoint().answer(new AdminRequest(parameters, ByteBufUtil.getBytes(request.content())));
  }

  private static InetAddress peer(ChannelHandlerContext ctx) {
    return ctx.channel().remoteAddress() instanceof InetSocketAddress address ? address.getAddress() : null;
  }

  private static CompletableFuture<AdminResponse> answer(AdminResponse response) {
    return CompletableFuture.completedFuture(response);
  }

  private void write(ChannelHandlerContext ctx, AdminResponse answer, boolean keepAlive, boolean head) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.valueOf(answer.status()), head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(answer.body()));
    answer.headers().forEach(response.headers()::set);
    response.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, answer.contentType())
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    HttpUtil.setContentLength(response, answer.body().length);
    HttpUtil.setKeepAlive(response, keepAlive);
    ctx.writeAndFlush(response).addListener(written -> {
      answering = false;
      if (!written.isSuccess() || !keepAlive) {
        ctx.close();
      } else {
        ctx.channel().config().setAutoRead(true);
        ctx.read();
      }
    });
  }

  /** The listener's idle timeout: a connection that sends no request for that long is closed. */
  @Override
  public void userEventTriggered(ChannelHandlerContext ctx, Object event) throws Exception {
    if (event instanceof IdleStateEvent && !answering) {
      ctx.close();
      return;
    }
    super.userEventTriggered(ctx, event);
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
