package io.cistern.admin;

import io.cistern.http.ServerTransport;
import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.timeout.IdleStateHandler;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener: a small HTTP server on a port of its own, with one event loop of its own,
 * so probes and scrapes are answered however busy the registry port is. What it serves is its
 * {@link AdminRoutes}, to whom its {@link AdminGuard} lets through. A connection that sends
 * nothing for the idle timeout is closed, so idle or stalled clients cannot pile up. Accepting
 * and answering share the one loop, unlike the registry port's: every answer here is small and
 * written whole, and what takes time runs on an executor, so the loop is never busy for long.
 */
public final class AdminServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(AdminServer.class);
  private static final int MAX_REQUEST_BYTES = 1 << 20;

  private final AdminRoutes routes;
  private final AdminGuard guard;
  private final Duration idleTimeout;
  /** The registry port's transport, so its classes are the only ones a process loads for listening. */
  private final ServerTransport transport = ServerTransport.best();
  private final EventLoopGroup group = new MultiThreadIoEventLoopGroup(1, transport.ioHandlers());
  private Channel listener;

  public AdminServer(AdminRoutes routes, AdminGuard guard, Duration idleTimeout) {
    this.routes = routes;
    this.guard = guard;
    this.idleTimeout = idleTimeout;
  }

  /** Binds and starts serving; returns the bound address (port 0 picks a free port). */
  public InetSocketAddress start(InetSocketAddress address) throws InterruptedException {
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(group)
        .channel(transport.serverChannel())
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel channel) {
            channel.pipeline()
                .addLast("idle", new IdleStateHandler(0, 0, idleTimeout.toMillis(), TimeUnit.MILLISECONDS))
                .addLast("http", new HttpServerCodec())
                .addLast("aggregate", new HttpObjectAggregator(MAX_REQUEST_BYTES))
                .addLast("admin", new AdminHandler(routes, guard));
          }
        });
    try {
      listener = bootstrap.bind(address).sync().channel();
    } catch (Exception e) {
      // Netty throws a BindException (checked) without declaring it: catch everything, rethrow as is.
      group.shutdownGracefully(0, 0, TimeUnit.SECONDS);
      throw e;
    }
    InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
    log.info("admin listening on {} ({}); the operators' API {}", bound, String.join(", ", routes.paths()),
        guard.hasToken() ? "needs the admin token" : "has no token: operations only from this machine");
    return bound;
  }

  @Override
  public void close() {
    if (listener != null) {
      listener.close().syncUninterruptibly();
    }
    group.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
