package io.cistern.testing;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A listener where a mirror client's fallback registry would be ({@code server} in containerd's
 * {@code hosts.toml}, a registry's {@code location} in podman's {@code registries.conf}), on
 * 127.0.0.2 so that no real service answers there: every connection is counted and cut at once, so
 * a pull that bypassed the mirror fails fast and the test can tell that it tried.
 */
public final class FallbackTrap implements AutoCloseable {

  private final ServerSocket server;
  private final AtomicInteger connections = new AtomicInteger();

  public FallbackTrap() throws IOException {
    server = new ServerSocket();
    server.bind(new InetSocketAddress(InetAddress.getByName("127.0.0.2"), 0), 50);
    Thread acceptor = new Thread(this::acceptLoop, "fallback-trap");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try (Socket connection = server.accept()) {
        connections.incrementAndGet();
      } catch (IOException e) {
        // Closed: the loop ends.
      }
    }
  }

  /** {@code 127.0.0.2:PORT}. */
  public String hostPort() {
    return "127.0.0.2:" + server.getLocalPort();
  }

  /** Connections so far: each one a pull that went around the mirror. */
  public int connections() {
    return connections.get();
  }

  @Override
  public void close() throws IOException {
    server.close();
  }
}
