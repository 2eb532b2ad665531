package io.cistern.testing;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;

/**
 * One bare HTTP/1.1 connection, for what a real HTTP client hides: a client that stops reading
 * (a small receive buffer, so the server's writes back up quickly), one that hangs up mid-body,
 * and exactly how many body bytes arrived before the server closed the connection.
 */
public final class RawHttpConnection implements AutoCloseable {

  /** A response's status line and headers (names in lower case). */
  public record Head(int status, Map<String, String> headers) {
    public long contentLength() {
      return Long.parseLong(headers.getOrDefault("content-length", "-1"));
    }
  }

  private final Socket socket;
  private final InputStream in;

  private RawHttpConnection(Socket socket) throws IOException {
    this.socket = socket;
    this.in = socket.getInputStream();
  }

  /** Connects to 127.0.0.1:{@code port} with the given receive buffer (0: the system's default). */
  public static RawHttpConnection open(int port, int receiveBufferBytes) throws IOException {
    Socket socket = new Socket();
    if (receiveBufferBytes > 0) {
      // Set before connecting, so the TCP window is negotiated with it.
      socket.setReceiveBufferSize(receiveBufferBytes);
    }
    socket.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
    return new RawHttpConnection(socket);
  }

  /** Sends a request without a body; {@code headers} are name, value pairs. */
  public void send(String method, String path, String... headers) throws IOException {
    StringBuilder request = new StringBuilder(method).append(' ').append(path).append(" HTTP/1.1\r\nHost: 127.0.0.1\r\n");
    for (int i = 0; i < headers.length; i += 2) {
      request.append(headers[i]).append(": ").append(headers[i + 1]).append("\r\n");
    }
    socket.getOutputStream().write(request.append("\r\n").toString().getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
  }

  /** Sends {@code request} exactly as written (head and body): for what a client library would not send, a foreign Host. */
  public void sendRaw(String request) throws IOException {
    socket.getOutputStream().write(request.getBytes(StandardCharsets.ISO_8859_1));
    socket.getOutputStream().flush();
  }

  public Head readHead() throws IOException {
    ByteArrayOutputStream head = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int b = in.read();
      if (b < 0) {
        throw new IOException("connection closed before the response head ended");
      }
      head.write(b);
      matched = (b == (matched % 2 == 0 ? '\r' : '\n')) ? matched + 1 : (b == '\r' ? 1 : 0);
    }
    String[] lines = head.toString(StandardCharsets.ISO_8859_1).split("\r\n");
    Map<String, String> headers = new LinkedHashMap<>();
    for (int i = 1; i < lines.length; i++) {
      int colon = lines[i].indexOf(':');
      if (colon > 0) {
        headers.put(lines[i].substring(0, colon).trim().toLowerCase(Locale.ROOT), lines[i].substring(colon + 1).trim());
      }
    }
    return new Head(Integer.parseInt(lines[0].split(" ")[1]), headers);
  }

  /** Reads {@code count} body bytes, or fewer if the server closes the connection first. */
  public byte[] readUpTo(long count) throws IOException {
    ByteArrayOutputStream body = new ByteArrayOutputStream();
    byte[] buffer = new byte[64 * 1024];
    long remaining = count;
    while (remaining > 0) {
      int n;
      try {
        n = in.read(buffer, 0, (int) Math.min(buffer.length, remaining));
      } catch (IOException reset) {
        // A reset is a close as far as a client can tell.
        break;
      }
      if (n < 0) {
        break;
      }
      body.write(buffer, 0, n);
      remaining -= n;
    }
    return body.toByteArray();
  }

  /** Reads at least one body byte (at most {@code max}), blocking until one arrives. */
  public byte[] readSome(int max) throws IOException {
    byte[] buffer = new byte[max];
    int n = in.read(buffer);
    if (n < 0) {
      throw new IOException("connection closed before any body byte arrived");
    }
    return Arrays.copyOf(buffer, n);
  }

  /**
   * Waits for the server to close the connection, reading (and dropping) whatever it still sends.
   *
   * @param limit a bound for a server that never closes, not a guess at how long closing takes
   * @return whether the server closed it within {@code limit}
   */
  public boolean awaitClose(Duration limit) throws IOException {
    socket.setSoTimeout((int) limit.toMillis());
    byte[] buffer = new byte[64 * 1024];
    try {
      while (in.read(buffer) >= 0) {
        // Drain until the end of the stream.
      }
      return true;
    } catch (SocketTimeoutException open) {
      return false;
    } catch (IOException reset) {
      // A reset is a close as far as a client can tell.
      return true;
    }
  }

  /** Hangs up abruptly (a TCP reset), as a killed client would. */
  public void abort() throws IOException {
    socket.setSoLinger(true, 0);
    socket.close();
  }

  @Override
  public void close() throws IOException {
    socket.close();
  }
}
