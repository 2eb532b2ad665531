package io.cistern.http;

import io.netty.channel.IoHandlerFactory;
import io.netty.channel.ServerChannel;
import io.netty.channel.epoll.Epoll;
import io.netty.channel.epoll.EpollIoHandler;
import io.netty.channel.epoll.EpollServerSocketChannel;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.nio.NioServerSocketChannel;

/**
 * The listeners' transport: Netty's native epoll where the platform has it (sendfile without the
 * JDK's detours), else the JDK's NIO. The registry and the admin port use the same one, so a
 * process loads one transport's classes, not both (NIO's selectors for the admin port alone were
 * some 60 classes resident in every idle process).
 *
 * @param epoll whether it is native epoll
 */
public record ServerTransport(boolean epoll) {

  /** Epoll if Netty's native library loads here, NIO otherwise. */
  public static ServerTransport best() {
    return new ServerTransport(Epoll.isAvailable());
  }

  /** For a {@code MultiThreadIoEventLoopGroup}'s loops. */
  public IoHandlerFactory ioHandlers() {
    return epoll ? EpollIoHandler.newFactory() : NioIoHandler.newFactory();
  }

  /** For a {@code ServerBootstrap}'s channel. */
  public Class<? extends ServerChannel> serverChannel() {
    return epoll ? EpollServerSocketChannel.class : NioServerSocketChannel.class;
  }

  /** As the listeners' log lines name it. */
  public String label() {
    return epoll ? "epoll" : "nio";
  }
}
