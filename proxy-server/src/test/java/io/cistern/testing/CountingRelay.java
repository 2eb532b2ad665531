package io.cistern.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Predicate;

/**
 * A TCP relay in front of a real upstream that records every HTTP request line before passing it
 * on, so a test can count what reached the upstream the moment its client has an answer. It can
 * also slow the upstream's answers down, or hold them after some bytes until released, to make
 * "serving while downloading" observable without timing anything. And it can go down as a link
 * or an upstream that restarts does, cutting every connection and refusing new ones, then come
 * back on the same port.
 *
 * <p>It parses only request heads: Cistern sends GET and HEAD, which carry no body.
 */
public final class CountingRelay implements AutoCloseable {

  /** One request as it passed the relay. */
  public record Request(String method, String target, List<String> headerLines) {
    public String path() {
      int query = target.indexOf('?');
      return query < 0 ? target : target.substring(0, query);
    }

    public boolean hasHeader(String name) {
      String prefix = name.toLowerCase() + ":";
      return headerLines.stream().anyMatch(line -> line.toLowerCase().startsWith(prefix));
    }
  }

  private final int port;
  private volatile int targetPort;
  private ServerSocket server;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile long bytesPerSecond;
  private volatile long holdAfterBytes = Long.MAX_VALUE;
  private volatile CountDownLatch hold = new CountDownLatch(0);

  private CountingRelay(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = listen(0);
    this.port = server.getLocalPort();
    startAcceptor(server);
  }

  public static CountingRelay to(int targetPort) throws IOException {
    return new CountingRelay(targetPort);
  }

  /**
   * A relay listening already, whose target is named later ({@link #connectTo}): a cluster member's
   * address, known before the Cistern behind it starts on a port of the kernel's choosing.
   * Connections before then are refused as by a server that is not up yet.
   */
  public static CountingRelay unconnected() throws IOException {
    return new CountingRelay(0);
  }

  /** From now on, relays to {@code targetPort}. */
  public CountingRelay connectTo(int targetPort) {
    this.targetPort = targetPort;
    return this;
  }

  public URI url() {
    return URI.create("http://127.0.0.1:" + port);
  }

  public List<Request> requests() {
    return List.copyOf(requests);
  }

  public long count(String method, Predicate<String> path) {
    return requests.stream().filter(r -> r.method().equals(method) && path.test(r.path())).count();
  }

  /** Limits each answer to about {@code rate} bytes per second (0: unlimited). */
  public void throttle(long rate) {
    this.bytesPerSecond = rate;
  }

  /** Each connection's answers stop after {@code bytes} until {@link #release()} is called. */
  public void holdAfter(long bytes) {
    hold = new CountDownLatch(1);
    holdAfterBytes = bytes;
  }

  public void release() {
    hold.countDown();
  }

  /** Cuts every open connection, as a network fault would. */
  public void cutConnections() {
    for (Socket socket : sockets) {
      closeQuietly(socket);
    }
  }

  /**
   * Goes down: stops listening, so new connections are refused, and cuts every open one, as a
   * link that went down or an upstream that restarts does. {@link #restore()} ends it.
   */
  public synchronized void goDown() throws IOException {
    server.close();
    cutConnections();
  }

  /** Listens again on the same port after {@link #goDown()}. */
  public synchronized void restore() throws IOException {
    server = listen(port);
    startAcceptor(server);
  }

  private static ServerSocket listen(int port) throws IOException {
    ServerSocket listener = new ServerSocket();
    // The port's connections cut by goDown linger in TIME_WAIT: listening again must not wait for them.
    listener.setReuseAddress(true);
    listener.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 100);
    return listener;
  }

  private void startAcceptor(ServerSocket listener) {
    start("relay-accept", () -> acceptLoop(listener));
  }

  private void acceptLoop(ServerSocket listener) {
    while (!listener.isClosed()) {
      Socket client;
      try {
        client = listener.accept();
      } catch (IOException e) {
        continue;
      }
      try {
        if (targetPort == 0) {
          throw new IOException("not connected to a target yet");
        }
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        if (!relay(listener, client, upstream)) {
          closeQuietly(client);
          closeQuietly(upstream);
        }
      } catch (IOException e) {
        // A refused upstream connection (the upstream is stopped): the client sees its connection drop.
        closeQuietly(client);
      }
    }
  }

  /** Starts relaying a connection, unless the relay went down since it was accepted (then it is cut with the rest). */
  private synchronized boolean relay(ServerSocket acceptedBy, Socket client, Socket upstream) {
    if (acceptedBy.isClosed()) {
      return false;
    }
    sockets.add(client);
    sockets.add(upstream);
    start("relay-up", () -> pumpRequests(client, upstream));
    start("relay-down", () -> pumpAnswers(upstream, client));
    return true;
  }

  private void pumpRequests(Socket client, Socket upstream) {
    StringBuilder head = new StringBuilder();
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = client.getInputStream(); OutputStream out = upstream.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        head.append(new String(buffer, 0, n, StandardCharsets.ISO_8859_1));
        int end;
        while ((end = head.indexOf("\r\n\r\n")) >= 0) {
          record(head.substring(0, end));
          head.delete(0, end + 4);
        }
        out.write(buffer, 0, n);
        out.flush();
      }
    } catch (IOException ignored) {
      // Either side closed.
    } finally {
      closeQuietly(client);
      closeQuietly(upstream);
    }
  }

  private void record(String head) {
    String[] lines = head.split("\r\n");
    String[] requestLine = lines[0].split(" ");
    if (requestLine.length >= 2) {
      requests.add(new Request(requestLine[0], requestLine[1], List.of(lines).subList(1, lines.length)));
    }
  }

  private void pumpAnswers(Socket upstream, Socket client) {
    byte[] buffer = new byte[16 * 1024];
    long sent = 0;
    long started = System.nanoTime();
    try (InputStream in = upstream.getInputStream(); OutputStream out = client.getOutputStream()) {
      while (true) {
        long room = holdAfterBytes - sent;
        if (room <= 0) {
          hold.await(5, TimeUnit.MINUTES);
          room = Long.MAX_VALUE;
          holdAfterBytes = Long.MAX_VALUE;
        }
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, room));
        if (n < 0) {
          break;
        }
        out.write(buffer, 0, n);
        out.flush();
        sent += n;
        pace(sent, started);
      }
    } catch (IOException ignored) {
      // Either side closed.
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } finally {
      closeQuietly(client);
      closeQuietly(upstream);
    }
  }

  /** Simulates a slow link: waits until {@code sent} bytes are due at the configured rate. */
  private void pace(long sent, long startedNanos) throws InterruptedException {
    long rate = bytesPerSecond;
    if (rate <= 0) {
      return;
    }
    long dueNanos = startedNanos + sent * 1_000_000_000L / rate;
    long wait = dueNanos - System.nanoTime();
    if (wait > 0) {
      TimeUnit.NANOSECONDS.sleep(wait);
    }
  }

  private static void start(String name, Runnable task) {
    Thread thread = new Thread(task, name);
    thread.setDaemon(true);
    thread.start();
  }

  private static void closeQuietly(Socket socket) {
    try {
      socket.close();
    } catch (IOException ignored) {
      // Already closed.
    }
  }

  @Override
  public void close() throws IOException {
    goDown();
  }
}
