package io.cistern.http;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.ChannelPipeline;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.IoEventLoop;
import io.netty.channel.IoHandlerFactory;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.SingleThreadIoEventLoop;
import io.netty.channel.socket.SocketChannel;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.stream.ChunkedWriteHandler;
import io.netty.util.NetUtil;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.RejectedExecutionHandlers;
import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry listener. The pipeline reads like the protocol: idle timeout → (TLS) → HTTP decoder
 * and encoder → exchange recorder (access log, metrics) → chunked writer (for streamed blobs) → registry
 * handler. Its transport is {@link ServerTransport#best()}: native epoll where the platform has it
 * (sendfile without the JDK's detours), NIO otherwise.
 *
 * <p>The event loops are this listener's own, and arranged so that a busy server still greets
 * newcomers: one loop only accepts, and the connections' loops (Netty's default, two per core)
 * take turns between streams and poll for new requests between every sweep of turns; see
 * {@link #acceptor}, {@link #connectionLoops} and {@link FileSlices}.
 */
public final class RegistryServer implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(RegistryServer.class);

  private final Function<Exchange, CompletableFuture<Reply>> api;
  private final SslContext tls;
  private final Duration idleTimeout;
  private final RequestListener requests;
  private final Clock clock;
  private final ActiveRequests active = new ActiveRequests();
  private final EncodedManifests encodedManifests;
  /**
   * Accepts connections and does nothing else, so accepting never waits behind a loop busy
   * writing: with accepting on a streaming loop, connections queued un-accepted for seconds while
   * hundreds of fast clients pulled a big blob.
   */
  private final EventLoopGroup acceptor;
  /** The connections' loops; see {@link #connectionLoops}. */
  private final EventLoopGroup workers;
  private final ServerTransport transport;
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
    this(api, tls, idleTimeout, requests, clock, new EncodedManifests(EncodedManifests.MAX_BYTES));
  }

  /** @param encodedManifests hot manifests' answers (a test's own, to see which requests took them) */
  RegistryServer(Function<Exchange, CompletableFuture<Reply>> api, SslContext tls, Duration idleTimeout,
      RequestListener requests, Clock clock, EncodedManifests encodedManifests) {
    this.encodedManifests = encodedManifests;
    this.api = api;
    this.tls = tls;
    this.idleTimeout = idleTimeout;
    this.requests = requests;
    this.clock = clock;
    this.transport = ServerTransport.best();
    IoHandlerFactory io = transport.ioHandlers();
    this.acceptor = new MultiThreadIoEventLoopGroup(1, new DefaultThreadFactory("registry-accept"), io);
    this.workers = connectionLoops(io);
  }

  /**
   * The connections' loops. A loop alternates between I/O (requests read, sockets writable again)
   * and its task queue, where a stream that used its turn waits for the next. Netty runs tasks for
   * up to a second before it polls I/O again, and under busy streams the queue never empties, so
   * a newcomer's request would wait that long to be read; a quantum of one millisecond (checked
   * every 64 tasks) polls between sweeps of turns instead. The task queue stays unbounded, as by
   * Netty's default.
   */
  private static EventLoopGroup connectionLoops(IoHandlerFactory io) {
    return new MultiThreadIoEventLoopGroup(0, new DefaultThreadFactory("registry"), io) {
      @Override
      protected IoEventLoop newChild(Executor executor, IoHandlerFactory handler, Object... args) {
        return new SingleThreadIoEventLoop(this, executor, handler, Integer.MAX_VALUE, RejectedExecutionHandlers.reject(), 1);
      }
    };
  }

  /** Binds and starts serving; returns the bound address (port 0 picks a free port). */
  public InetSocketAddress start(InetSocketAddress address) throws InterruptedException {
    ServerBootstrap bootstrap = new ServerBootstrap()
        .group(acceptor, workers)
        .channel(transport.serverChannel())
        // Connections the kernel has completed but not yet handed over wait in the listen queue;
        // past its length a client's SYN is dropped and retried a second or more later. The
        // kernel's limit (net.core.somaxconn), so a burst of connections queues instead.
        .option(ChannelOption.SO_BACKLOG, NetUtil.SOMAXCONN)
        .childOption(ChannelOption.TCP_NODELAY, true)
        // One write call per turn, then the loop's next connection: with blobs sent in slices
        // (FileSlices), a stream's turn moves at most a slice. Netty's default is 16 calls.
        .childOption(ChannelOption.WRITE_SPIN_COUNT, 1)
        .childHandler(new ChannelInitializer<SocketChannel>() {
          @Override
          protected void initChannel(SocketChannel channel) {
            ChannelPipeline pipeline = channel.pipeline();
            pipeline.addLast("idle", new IdleConnectionCloser(idleTimeout));
            if (tls != null) {
              pipeline.addLast("tls", tls.newHandler(channel.alloc()));
            }
            // A decoder and an encoder, not HttpServerCodec: that one pairs each response with its
            // request's method, and an answer written past the encoder (EncodedManifests) would
            // leave the pairing one behind for good. HEAD answers carry no body of their own.
            pipeline.addLast("http-decoder", new HttpRequestDecoder(8192, 16 * 1024, 8192));
            pipeline.addLast("http-encoder", new HttpResponseEncoder());
            ExchangeRecorder recorder = new ExchangeRecorder(requests, active, clock);
            pipeline.addLast("recorder", recorder);
            pipeline.addLast("chunked", new ChunkedWriteHandler());
            pipeline.addLast("registry", new RegistryHandler(api, tls == null, recorder, encodedManifests));
          }
        });
    listener = bootstrap.bind(address).sync().channel();
    InetSocketAddress bound = (InetSocketAddress) listener.localAddress();
    log.info("registry listening on {} ({}{}, listen backlog {})", bound, transport.label(), tls != null ? ", TLS" : "",
        NetUtil.SOMAXCONN);
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
    acceptor.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
    workers.shutdownGracefully(0, 5, TimeUnit.SECONDS).syncUninterruptibly();
  }
}
