package io.cistern.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry listener. The pipeline reads like the protocol: idle timeout → (TLS) → HTTP codec →
 * exchange recorder (access log, metrics) → chunked writer (for streamed blobs) → registry
 * handler. Native epoll is used when the platform has it (sendfile without the JDK's detours),
 * NIO otherwise. The event loops are this listener's own: Netty's default, two per core.
 */
public final class RegistryServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RegistryServer.class);

  private final Function<Exchange, CompletableFuture<Reply>> api;
  private final SslContext tls;
  private final Duration idleTimeout;
  private final RequestListener requests;
  private final Clock clock;
  private final ActiveRequests active = new ActiveRequests();
  private final EventLoopGroup group;
  private final boolean epoll;
  private Channel listener;

  /**
   * @param tls the server's TLS context, or null for plain HTTP
   * @param idleTimeout how long a connection may see no bytes in either direction before it is closed
   * @param requests told about every answered request (access log, metrics)
   */
  public RegistryServer(RegistryApi api, SslContext tls, Duration idleTimeout, RequestListener requests, Clock clock) {
    this(api::handle, tls, idleTimeout, requests, clock);
  }

  /** @param api answers each request: the registry API, or a test's stand-in for it */
  RegistryServer(Function<Exchange, CompletableFuture<Reply>> api, SslContext tls, Duration idleTimeout,
      RequestListener requests, Clock clock) {
    this.api = api;
    this.tls = tls;
    this.idleTimeout = idleTimeout;
    this.requests = requests;
    this.clock = clock;
    this.epoll = Epoll.isAvailable();
    IoHandlerFactory io = epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
    this.group = new MultiThreadIoEventLoopGroup(io);
  }

  /** Binds and starts serving; returns the bound address (port 0 picks a free port). */
  public InetSocketAddress start(InetSocketAddress address) throws InterruptedException {
    Class<? extends ServerChannel> channelType = epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(group)
        .channel(channelType)
        .option(ChannelOption.SO_BACKLOG, 1024)
        .childOption(ChannelOption.TCP_NODELAY, true)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel channel) {
            ChannelPipeline pipeline = channel.pipeline();
            pipeline.addLast("idle", new IdleConnectionCloser(idleTimeout));
            if (tls != null) {
              pipeline.addLast("tls", tls.newHandler(channel.alloc()));
            }
            pipeline.addLast("http", new HttpServerCodec(8192, 16 * 1024, 8192));
            ExchangeRecorder recorder = new ExchangeRecorder(requests, active, clock);
            pipeline.addLast("recorder", recorder);
            pipeline.addLast("chunked", new ChunkedWriteHandler());
            pipeline.addLast("registry", new RegistryHandler(api, tls == null, recorder));
          }
        });
    listener = bootstrap.bind(address).sync().channel();
    InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
    log.info("registry listening on {} ({}{})", bound, epoll ? "epoll" : "nio", tls != null ? ", TLS" : "");
    return bound;
  }

  /** The requests between arrival and the end of their answer. */
  public ActiveRequests activeRequests() {
    return active;
  }

  /** Stops accepting new connections; open ones finish what they are sending. */
  public void stopAccepting() {
    if (listener != null) {
      listener.close().syncUninterruptibly();
    }
  }

  @Override
  public void close() {
    stopAccepting();
    group.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
