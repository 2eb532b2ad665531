package io.cistern.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
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
 * "serving while downloading" observable without timing anything.
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

  private final ServerSocket server;
  private final int targetPort;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile long bytesPerSecond;
  private volatile long holdAfterBytes = Long.MAX_VALUE;
  private volatile CountDownLatch hold = new CountDownLatch(0);

  private CountingRelay(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::acceptLoop, "relay-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  public static CountingRelay to(int targetPort) throws IOException {
    return new CountingRelay(targetPort);
  }

  public URI url() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
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

  private void acceptLoop() {
    while (!server.isClosed()) {
      Socket client;
      try {
        client = server.accept();
      } catch (IOException e) {
        continue;
      }
      try {
        Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort);
        sockets.add(client);
        sockets.add(upstream);
        start("relay-up", () -> pumpRequests(client, upstream));
        start("relay-down", () -> pumpAnswers(upstream, client));
      } catch (IOException e) {
        // A refused upstream connection (the upstream is stopped): the client sees its connection drop.
        closeQuietly(client);
      }
    }
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
    server.close();
    cutConnections();
  }
}
