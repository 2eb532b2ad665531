package io.cistern.testing;

import io.cistern.oci.Digest;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A hand-made registry for the faults a real one cannot produce in the middle of an answer: a
 * connection cut mid-blob, wrong bytes, a body without a length that ends short, a blob
 * announced empty, an upstream that stalls or never answers, a manifest that does not match its
 * digest. It writes its answers to the
 * socket itself, so it can stop, stall or corrupt one anywhere (status faults such as 429 are
 * {@link FaultInjectingUpstream}'s). Everything a fault-free registry does is tested against the
 * real CNCF Distribution instead.
 *
 * <p>Each blob GET takes the next {@link Answer} scripted for its digest and, once the script is
 * used up, serves the blob properly. Every response closes its connection, so each request is a
 * connection of its own. Requests are recorded as they arrive.
 */
public final class SocketFaultInjectingUpstream implements AutoCloseable {

  /** What the upstream does with one blob GET. */
  public sealed interface Answer permits Serve, CutAfter, StallAfter, Corrupt, Unsized, Empty, NoAnswer {}

  /** The right bytes (from the asked offset when ranges are honoured). */
  public record Serve() implements Answer {}

  /** Announces the full length, sends {@code bytes} of the body, and closes the connection. */
  public record CutAfter(long bytes) implements Answer {}

  /** Sends {@code bytes} of the body, then nothing more until the client hangs up. */
  public record StallAfter(long bytes) implements Answer {}

  /** The full length, but the byte at blob offset {@code offset} is flipped. */
  public record Corrupt(long offset) implements Answer {}

  /** No {@code Content-Length}: sends {@code bytes} of the blob and closes, a body that looks complete. */
  public record Unsized(long bytes) implements Answer {}

  /** Reads the request and never answers it. */
  public record NoAnswer() implements Answer {}

  /** Announces the blob as empty ({@code Content-Length: 0}) and sends nothing. */
  public record Empty() implements Answer {}

  /** One request as it arrived; {@code range} is its {@code Range} header or null. */
  public record Request(String method, String path, String range) {}

  private record StoredManifest(String mediaType, byte[] body, String digestHeader) {}

  private final ServerSocket server;
  private final boolean honoursRanges;
  private final Map<Digest, byte[]> blobs = new ConcurrentHashMap<>();
  private final Map<Digest, Queue<Answer>> scripts = new ConcurrentHashMap<>();
  private final Map<String, StoredManifest> manifests = new ConcurrentHashMap<>();
  private final List<Request> requests = new CopyOnWriteArrayList<>();
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();

  private SocketFaultInjectingUpstream(boolean honoursRanges) throws IOException {
    this.honoursRanges = honoursRanges;
    this.server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    Thread acceptor = new Thread(this::acceptLoop, "socket-fault-upstream-accept");
    acceptor.setDaemon(true);
    acceptor.start();
  }

  /** Starts on a free port of 127.0.0.1; {@code honoursRanges} false answers every Range with 200. */
  public static SocketFaultInjectingUpstream start(boolean honoursRanges) throws IOException {
    return new SocketFaultInjectingUpstream(honoursRanges);
  }

  public URI url() {
    return URI.create("http://127.0.0.1:" + server.getLocalPort());
  }

  public int port() {
    return server.getLocalPort();
  }

  /** Stores a blob (under any repository) and returns its digest. */
  public Digest blob(byte[] content) {
    Digest digest = Digest.sha256Of(content);
    blobs.put(digest, content.clone());
    return digest;
  }

  /** The answers the next GETs of {@code digest} get, in order. */
  public void script(Digest digest, Answer... answers) {
    scripts.computeIfAbsent(digest, ignored -> new ConcurrentLinkedQueue<>()).addAll(List.of(answers));
  }

  /** Serves {@code body} for {@code /v2/<repository>/manifests/<reference>} with the given digest header (or none). */
  public void manifest(String repository, String reference, String mediaType, byte[] body, String digestHeader) {
    manifests.put("/v2/" + repository + "/manifests/" + reference, new StoredManifest(mediaType, body.clone(), digestHeader));
  }

  /** The GETs that reached this upstream for {@code path}, in order. */
  public List<Request> gets(String path) {
    return requests.stream().filter(r -> r.method().equals("GET") && r.path().equals(path)).toList();
  }

  private void acceptLoop() {
    while (!server.isClosed()) {
      try {
        Socket socket = server.accept();
        sockets.add(socket);
        Thread handler = new Thread(() -> handle(socket), "socket-fault-upstream-conn");
        handler.setDaemon(true);
        handler.start();
      } catch (IOException closed) {
        // The server socket closed: stop accepting.
      }
    }
  }

  private void handle(Socket socket) {
    try (socket; InputStream in = socket.getInputStream(); OutputStream out = socket.getOutputStream()) {
      Request request = readRequest(in);
      if (request == null) {
        return;
      }
      requests.add(request);
      StoredManifest manifest = manifests.get(request.path());
      if (manifest != null) {
        answerManifest(out, request, manifest);
        return;
      }
      Digest digest = blobDigest(request.path());
      byte[] content = digest == null ? null : blobs.get(digest);
      if (content == null) {
        write(out, "404 Not Found", Map.of("Content-Type", "application/json", "Content-Length", "0"), new byte[0]);
        return;
      }
      if (request.method().equals("HEAD")) {
        write(out, "200 OK", Map.of("Content-Length", String.valueOf(content.length), "Docker-Content-Digest", digest.toString()),
            new byte[0]);
        return;
      }
      Queue<Answer> script = scripts.get(digest);
      Answer answer = script == null ? null : script.poll();
      answerBlob(in, out, request, content, answer == null ? new Serve() : answer);
    } catch (IOException ignored) {
      // The client hung up; for a fault injector that is often the point.
    }
  }

  private void answerManifest(OutputStream out, Request request, StoredManifest manifest) throws IOException {
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Content-Type", manifest.mediaType());
    headers.put("Content-Length", String.valueOf(manifest.body().length));
    if (manifest.digestHeader() != null) {
      headers.put("Docker-Content-Digest", manifest.digestHeader());
    }
    write(out, "200 OK", headers, request.method().equals("HEAD") ? new byte[0] : manifest.body());
  }

  private void answerBlob(InputStream in, OutputStream out, Request request, byte[] content, Answer answer) throws IOException {
    long offset = honoursRanges ? rangeStart(request.range()) : 0;
    byte[] body = Arrays.copyOfRange(content, (int) offset, content.length);
    String status = offset > 0 ? "206 Partial Content" : "200 OK";
    Map<String, String> headers = new LinkedHashMap<>();
    headers.put("Content-Type", "application/octet-stream");
    if (answer instanceof Empty) {
      body = new byte[0];
    }
    if (!(answer instanceof Unsized)) {
      headers.put("Content-Length", String.valueOf(body.length));
    }
    if (offset > 0) {
      headers.put("Content-Range", "bytes " + offset + "-" + (content.length - 1) + "/" + content.length);
    }
    if (answer instanceof CutAfter cut) {
      write(out, status, headers, Arrays.copyOf(body, (int) cut.bytes()));
    } else if (answer instanceof StallAfter stall) {
      write(out, status, headers, Arrays.copyOf(body, (int) stall.bytes()));
      waitForHangUp(in);
    } else if (answer instanceof Corrupt corrupt) {
      int index = (int) (corrupt.offset() - offset);
      if (index >= 0 && index < body.length) {
        body[index] ^= 0x5a;
      }
      write(out, status, headers, body);
    } else if (answer instanceof Unsized unsized) {
      write(out, status, headers, Arrays.copyOf(body, (int) unsized.bytes()));
    } else if (answer instanceof NoAnswer) {
      waitForHangUp(in);
    } else {
      write(out, status, headers, body);
    }
  }

  /** Says nothing more until the client gives up and closes its side. */
  private static void waitForHangUp(InputStream in) throws IOException {
    while (in.read() >= 0) {
      // Discard whatever it sends.
    }
  }

  private static void write(OutputStream out, String status, Map<String, String> headers, byte[] body) throws IOException {
    StringBuilder head = new StringBuilder("HTTP/1.1 ").append(status).append("\r\n");
    headers.forEach((name, value) -> head.append(name).append(": ").append(value).append("\r\n"));
    head.append("Connection: close\r\n\r\n");
    out.write(head.toString().getBytes(StandardCharsets.ISO_8859_1));
    out.write(body);
    out.flush();
  }

  private static Request readRequest(InputStream in) throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        return null;
      }
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
    String[] requestLine = lines[0].split(" ");
    String range = null;
    for (int i = 1; i < lines.length; i++) {
      if (lines[i].toLowerCase(Locale.ROOT).startsWith("range:")) {
        range = lines[i].substring("range:".length()).trim();
      }
    }
    String target = requestLine[1];
    int query = target.indexOf('?');
    return new Request(requestLine[0], query < 0 ? target : target.substring(0, query), range);
  }

  private static Digest blobDigest(String path) {
    int marker = path.lastIndexOf("/blobs/");
    if (marker < 0) {
      return null;
    }
    try {
      return Digest.parse(path.substring(marker + "/blobs/".length()));
    } catch (RuntimeException notADigest) {
      return null;
    }
  }

  /** The N of {@code bytes=N-}, the only form Cistern sends; 0 for anything else. */
  private static long rangeStart(String range) {
    if (range == null || !range.startsWith("bytes=") || !range.endsWith("-")) {
      return 0;
    }
    return Long.parseLong(range.substring("bytes=".length(), range.length() - 1));
  }

  @Override
  public void close() throws IOException {
    server.close();
    for (Socket socket : sockets) {
      try {
        socket.close();
      } catch (IOException ignored) {
        // Already closed.
      }
    }
  }
}
