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
import java.util.Locale;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Predicate;

/**
 * A TCP relay in front of a real upstream that records every HTTP request line before passing it
 * on, so a test can count what reached the upstream the moment its client has an answer. It can
 * also slow the upstream's answers down, or hold them after some bytes until released, to make
 * "serving while downloading" observable without timing anything. And it can go down as a link
 * or an upstream that restarts does, cutting every connection and refusing new ones, then come
 * back on the same port.
 *
 * <p>It can stand in front of a server that does not listen yet ({@link #unconnected}): its
 * port is known, and can be written into configuration, before the server behind it has bound its
 * own port 0; connections wait until {@link #connectTo} names it. And an {@link AnswerHold} shared by
 * several relays holds the answer to the first request any of them sees that matches, so a test
 * learns which of several servers asked.
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
      return header(name).isPresent();
    }

    /** The value of the first header named {@code name} (any case), trimmed. */
    public Optional<String> header(String name) {
      String prefix = name.toLowerCase(Locale.ROOT) + ":";
      return headerLines.stream().filter(line -> line.toLowerCase(Locale.ROOT).startsWith(prefix))
          .map(line -> line.substring(prefix.length()).strip()).findFirst();
    }
  }

  /**
   * Holds the answer to one request, the first that matches among every relay it is given to,
   * after {@code afterBytes} of that answer, until {@link #release()}.
   */
  public static final class AnswerHold {
    /** Where the hold took effect. */
    public record Held(CountingRelay relay, Request request) {}

    private final Predicate<Request> which;
    private final long afterBytes;
    private final AtomicBoolean claimed = new AtomicBoolean();
    private final CompletableFuture<Held> engaged = new CompletableFuture<>();
    private final CountDownLatch released = new CountDownLatch(1);

    private AnswerHold(Predicate<Request> which, long afterBytes) {
      this.which = which;
      this.afterBytes = afterBytes;
    }

    public static AnswerHold of(Predicate<Request> which, long afterBytes) {
      return new AnswerHold(which, afterBytes);
    }

    /** Completes once the held answer has stopped, naming the relay and the request. */
    public CompletableFuture<Held> engaged() {
      return engaged;
    }

    public void release() {
      released.countDown();
    }

    private boolean claim(Request request) {
      return which.test(request) && claimed.compareAndSet(false, true);
    }
  }

  /** One relayed connection: what both directions share. */
  private static final class Link {
    /** Answer bytes passed to the client so far. */
    volatile long answered;
    /** Where the answer stops for {@link #hold}; beyond any answer while there is none. */
    volatile long holdAt = Long.MAX_VALUE;
    volatile AnswerHold hold;
    volatile Request heldRequest;
  }

  private final int port;
  private final CompletableFuture<Integer> targetPort;
  private ServerSocket server;
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile long bytesPerSecond;
  private volatile long holdAfterBytes = Long.MAX_VALUE;
  private volatile CountDownLatch hold = new CountDownLatch(0);
  private final List<AnswerHold> answerHolds = new CopyOnWriteArrayList<>();
  private final List<Awaited> awaited = new CopyOnWriteArrayList<>();

  /** A test waiting for a number of matching requests. */
  private record Awaited(Predicate<Request> which, int count, CompletableFuture<List<Request>> seen) {}

  private CountingRelay(CompletableFuture<Integer> targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = listen(0);
    this.port = server.getLocalPort();
    startAcceptor(server);
  }

  public static CountingRelay to(int targetPort) throws IOException {
    return new CountingRelay(CompletableFuture.completedFuture(targetPort));
  }

  /**
   * A relay listening already, whose target is named later ({@link #connectTo}): a cluster member's
   * address, known before the Cistern behind it starts on a port of the kernel's choosing.
   * Connections before then wait (up to a minute) and go on to the target once it is named, as
   * to a member that is starting: a member that probes another before it listens finds it live
   * rather than down.
   */
  public static CountingRelay unconnected() throws IOException {
    return new CountingRelay(new CompletableFuture<>());
  }

  /** From now on, and for the connections waiting, relays to {@code targetPort}. */
  public CountingRelay connectTo(int targetPort) {
    if (!this.targetPort.complete(targetPort)) {
      throw new IllegalStateException("the relay already goes to port " + this.targetPort.join());
    }
    return this;
  }

  public int port() {
    return port;
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

  /**
   * Completes once {@code count} requests that match {@code which} have passed (those already
   * passed included), with them.
   */
  public synchronized CompletableFuture<List<Request>> awaitRequests(Predicate<Request> which, int count) {
    Awaited waiting = new Awaited(which, count, new CompletableFuture<>());
    awaited.add(waiting);
    check(waiting);
    return waiting.seen();
  }

  private void check(Awaited waiting) {
    List<Request> matching = requests.stream().filter(waiting.which()).toList();
    if (matching.size() >= waiting.count() && waiting.seen().complete(matching)) {
      awaited.remove(waiting);
    }
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

  /** Applies {@code hold} to the requests this relay passes from now on. */
  public void holdAnswer(AnswerHold hold) {
    answerHolds.add(hold);
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
      // Connected on a thread of its own: the target may not be known yet, and a wait for it must
      // not hold up the next accept.
      start("relay-connect", () -> connect(listener, client));
    }
  }

  private void connect(ServerSocket acceptedBy, Socket client) {
    try {
      int target = targetPort.get(1, TimeUnit.MINUTES);
      Socket upstream = new Socket(InetAddress.getLoopbackAddress(), target);
      if (!relay(acceptedBy, client, upstream)) {
        closeQuietly(client);
        closeQuietly(upstream);
      }
    } catch (IOException | ExecutionException | TimeoutException e) {
      // A refused upstream connection (the upstream is stopped): the client sees its connection drop.
      closeQuietly(client);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      closeQuietly(client);
    }
  }

  /** Starts relaying a connection, unless the relay went down since it was accepted (then it is cut with the rest). */
  private synchronized boolean relay(ServerSocket acceptedBy, Socket client, Socket upstream) {
    if (acceptedBy.isClosed()) {
      return false;
    }
    sockets.add(client);
    sockets.add(upstream);
    Link link = new Link();
    start("relay-up", () -> pumpRequests(client, upstream, link));
    start("relay-down", () -> pumpAnswers(upstream, client, link));
    return true;
  }

  private void pumpRequests(Socket client, Socket upstream, Link link) {
    StringBuilder head = new StringBuilder();
    byte[] buffer = new byte[16 * 1024];
    try (InputStream in = client.getInputStream(); OutputStream out = upstream.getOutputStream()) {
      int n;
      while ((n = in.read(buffer)) >= 0) {
        head.append(new String(buffer, 0, n, StandardCharsets.ISO_8859_1));
        int end;
        while ((end = head.indexOf("\r\n\r\n")) >= 0) {
          record(head.substring(0, end), link);
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

  private void record(String head, Link link) {
    String[] lines = head.split("\r\n");
    String[] requestLine = lines[0].split(" ");
    if (requestLine.length >= 2) {
      Request request = new Request(requestLine[0], requestLine[1], List.of(lines).subList(1, lines.length));
      synchronized (this) {
        requests.add(request);
        awaited.forEach(this::check);
      }
      for (AnswerHold answerHold : answerHolds) {
        if (answerHold.claim(request)) {
          // The client sends its next request only once it has the whole previous answer (no
          // pipelining), so every byte answered so far belongs to earlier requests: this answer
          // starts at link.answered.
          link.heldRequest = request;
          link.hold = answerHold;
          link.holdAt = link.answered + answerHold.afterBytes;
        }
      }
    }
  }

  private void pumpAnswers(Socket upstream, Socket client, Link link) {
    byte[] buffer = new byte[16 * 1024];
    long started = System.nanoTime();
    try (InputStream in = upstream.getInputStream(); OutputStream out = client.getOutputStream()) {
      while (true) {
        long sent = link.answered;
        if (link.holdAt - sent <= 0) {
          AnswerHold held = link.hold;
          held.engaged.complete(new AnswerHold.Held(this, link.heldRequest));
          held.released.await(5, TimeUnit.MINUTES);
          link.holdAt = Long.MAX_VALUE;
        }
        long room = holdAfterBytes - sent;
        if (room <= 0) {
          hold.await(5, TimeUnit.MINUTES);
          room = Long.MAX_VALUE;
          holdAfterBytes = Long.MAX_VALUE;
        }
        room = Math.min(room, link.holdAt - sent);
        int n = in.read(buffer, 0, (int) Math.min(buffer.length, room));
        if (n < 0) {
          break;
        }
        out.write(buffer, 0, n);
        out.flush();
        link.answered = sent + n;
        pace(sent + n, started);
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
