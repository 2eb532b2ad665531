package io.cistern.testing;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP relay in front of a real upstream (Distribution, which reports no rate limit) that adds
 * Docker Hub's rate-limit headers to the upstream's answers to manifest requests, with the values
 * the test sets: {@code ratelimit-limit: 100;w=21600}, {@code ratelimit-remaining: 76;w=21600}.
 * Docker Hub counts manifest requests only; blob answers pass unchanged.
 *
 * <p>To edit a response head without parsing bodies, each connection carries one exchange: the
 * relay asks the upstream to close after it ({@code Connection: close}) and tells the client the
 * same, then passes the body through byte for byte until the upstream closes. Cistern sends GET
 * and HEAD, which carry no body.
 */
public final class RateLimitHeaderRelay implements AutoCloseable {

  private static final byte[] END_OF_HEAD = "\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
  private static final int MAX_HEAD_BYTES = 64 * 1024;

  private final ServerSocket server;
  private final int targetPort;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private volatile List<String> addedHeaders = List.of();

  private RateLimitHeaderRelay(int targetPort) throws IOException {
    this.targetPort = targetPort;
    this.server = new ServerSocket(0, 100, InetAddress.getLoopbackAddress());
    start("ratelimit-relay-accept", this::acceptLoop);
  }

  public static RateLimitHeaderRelay to(int targetPort) throws IOException {
    return new RateLimitHeaderRelay(targetPort);
  }

  public URI url() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  /** From now on, manifest answers carry these header values, as they are (malformed ones too). */
  public void report(String limit, String remaining) {
    addedHeaders = List.of("ratelimit-limit: " + limit, "ratelimit-remaining: " + remaining,
        "docker-ratelimit-source: 127.0.0.1");
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket client = server.accept();
        sockets.add(client);
        start("ratelimit-relay", () -> relay(client));
      } catch (IOException e) {
        // Closed, or one failed accept: the loop's condition decides.
      }
    }
  }

  private void relay(Socket client) {
    try (client; Socket upstream = new Socket(InetAddress.getLoopbackAddress(), targetPort)) {
      sockets.add(upstream);
      InputStream fromClient = new BufferedInputStream(client.getInputStream());
      OutputStream toUpstream = upstream.getOutputStream();
      List<String> request = head(fromClient);
      if (request.isEmpty()) {
        return;
      }
      toUpstream.write(join(withConnectionClose(request)));
      toUpstream.flush();
      boolean manifest = request.get(0).contains("/manifests/");

      InputStream fromUpstream = new BufferedInputStream(upstream.getInputStream());
      OutputStream toClient = client.getOutputStream();
      List<String> response = withConnectionClose(head(fromUpstream));
      if (response.isEmpty()) {
        return;
      }
      if (manifest) {
        response.addAll(addedHeaders);
      }
      toClient.write(join(response));
      fromUpstream.transferTo(toClient);
      toClient.flush();
    } catch (IOException e) {
      // Either side closed: the client sees its connection end, as with any dropped link.
    } finally {
      sockets.removeIf(Socket::isClosed);
    }
  }

  /** A message's head, its lines without their line ends; empty when the stream ended first. */
  private static List<String> head(InputStream in) throws IOException {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < END_OF_HEAD.length) {
      int b = in.read();
      if (b < 0) {
        return List.of();
      }
      bytes.write(b);
      matched = b == END_OF_HEAD[matched] ? matched + 1 : (b == END_OF_HEAD[0] ? 1 : 0);
      if (bytes.size() > MAX_HEAD_BYTES) {
        throw new IOException("a message head longer than " + MAX_HEAD_BYTES + " bytes");
      }
    }
    String text = bytes.toString(StandardCharsets.ISO_8859_1);
    return List.of(text.substring(0, text.length() - END_OF_HEAD.length).split("\r\n"));
  }

  private static List<String> withConnectionClose(List<String> head) {
    List<String> lines = new ArrayList<>();
    for (String line : head) {
      if (!line.toLowerCase(Locale.ROOT).startsWith("connection:")) {
        lines.add(line);
      }
    }
    if (!lines.isEmpty()) {
      lines.add("Connection: close");
    }
    return lines;
  }

  private static byte[] join(List<String> lines) {
    return (String.join("\r\n", lines) + "\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
  }

  private static void start(String name, Runnable task) {
    Thread thread = new Thread(task, name);
    thread.setDaemon(true);
    thread.start();
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket socket : sockets) {
      socket.close();
    }
  }
}
