package io.cistern.admin;

import io.netty.buffer.ByteBufUtil;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One admin connection: finds each request's endpoint in the route table and writes its answer.
 * Requests are answered one at a time: reading pauses while an answer is pending.
 */
final class AdminHandler extends SimpleChannelInboundHandler<FullHttpRequest> {

  private static final Logger log = LoggerFactory.getLogger(AdminHandler.class);

  private final AdminRoutes routes;

  AdminHandler(AdminRoutes routes) {
    this.routes = routes;
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, FullHttpRequest request) {
    boolean keepAlive = HttpUtil.isKeepAlive(request) && request.decoderResult().isSuccess();
    boolean head = request.method().equals(HttpMethod.HEAD);
    CompletableFuture<AdminResponse> answer;
    try {
      answer = route(request);
    } catch (RuntimeException e) {
      answer = CompletableFuture.failedFuture(e);
    }
    ctx.channel().config().setAutoRead(false);
    answer.whenCompleteAsync((response, failure) -> {
      if (failure != null) {
        log.error("admin endpoint {} failed", request.uri(), failure);
        response = AdminResponse.text(500, "internal error\n");
      }
      write(ctx, response, keepAlive, head);
    }, ctx.executor());
  }

  private CompletableFuture<AdminResponse> route(FullHttpRequest request) {
    if (request.decoderResult().isFailure()) {
      return CompletableFuture.completedFuture(AdminResponse.text(400, "malformed request\n"));
    }
    QueryStringDecoder query = new QueryStringDecoder(request.uri());
    Optional<Map<String, AdminEndpoint>> methods = routes.find(query.path());
    if (methods.isEmpty()) {
      return CompletableFuture.completedFuture(AdminResponse.text(404, "no such endpoint; try " + routes.paths() + "\n"));
    }
    String method = request.method().name();
    AdminEndpoint endpoint = methods.get().get(method.equals("HEAD") ? "GET" : method);
    if (endpoint == null) {
      return CompletableFuture.completedFuture(AdminResponse.text(405, "allowed: " + methods.get().keySet() + "\n"));
    }
    byte[] body = ByteBufUtil.getBytes(request.content());
    return endpoint.answer(new AdminRequest(method, query.path(), query.parameters(), request.headers().copy(), body));
  }

  private static void write(ChannelHandlerContext ctx, AdminResponse answer, boolean keepAlive, boolean head) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        HttpResponseStatus.valueOf(answer.status()), head ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(answer.body()));
    response.headers()
        .set(HttpHeaderNames.CONTENT_TYPE, answer.contentType())
        .set(HttpHeaderNames.CACHE_CONTROL, "no-store");
    HttpUtil.setContentLength(response, answer.body().length);
    HttpUtil.setKeepAlive(response, keepAlive);
    ctx.writeAndFlush(response).addListener(written -> {
      if (!written.isSuccess() || !keepAlive) {
        ctx.close();
      } else {
        ctx.channel().config().setAutoRead(true);
        ctx.read();
      }
    });
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    ctx.close();
  }
}
