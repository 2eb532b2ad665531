package io.cistern.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLongArray;

/**
 * Many clients each downloading one path as fast as they can: the load that keeps a server's
 * event loops busy writing. A few threads read them all, each taking turns over its share with a
 * selector, one read per ready connection per turn, so no client gets ahead by being scheduled
 * more often than another; what differences remain are the server's. Reading starts once every
 * client has connected and sent its request, so none races ahead while the others connect.
 * A test orders its own events against two moments: every stream well into its body
 * ({@link #allMidBody()}) and each stream's end ({@link #ended()}), with no clock involved.
 */
public final class FullSpeedStreams implements AutoCloseable {

  private static final int READ_BYTES = 64 * 1024;

  private final long midBodyBytes;
  private final AtomicLongArray received;
  private final AtomicInteger midBody = new AtomicInteger();
  private final AtomicInteger ended = new AtomicInteger();
  private final CompletableFuture<Void> allMidBody = new CompletableFuture<>();
  private final List<Selector> selectors = new ArrayList<>();
  private final List<Thread> readers = new ArrayList<>();
  private volatile boolean closed;
  private volatile Throwable failure;

  private FullSpeedStreams(int count, long midBodyBytes) {
    this.midBodyBytes = midBodyBytes;
    this.received = new AtomicLongArray(count);
  }

  /**
   * Connects {@code count} clients to 127.0.0.1:{@code port}, each sending GET {@code path}, then
   * reads all the answers on {@code threads} threads.
   *
   * @param midBodyBytes how many body bytes make a stream mid-body: more than the socket buffers
   *     hold, so that reaching it proves the server kept writing after the clients began to read
   */
  public static FullSpeedStreams start(int port, String path, int count, int threads, long midBodyBytes) throws IOException {
    FullSpeedStreams streams = new FullSpeedStreams(count, midBodyBytes);
    byte[] request = ("GET " + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1);
    try {
      for (int i = 0; i < threads; i++) {
        streams.selectors.add(Selector.open());
      }
      for (int i = 0; i < count; i++) {
        SocketChannel channel = SocketChannel.open(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
        channel.write(ByteBuffer.wrap(request));
        channel.configureBlocking(false);
        channel.register(streams.selectors.get(i % threads), SelectionKey.OP_READ, new Stream(i));
      }
    } catch (IOException e) {
      streams.selectors.forEach(FullSpeedStreams::closeAll);
      throw e;
    }
    for (Selector selector : streams.selectors) {
      Thread reader = new Thread(() -> streams.read(selector), "full-speed-streams");
      reader.setDaemon(true);
      streams.readers.add(reader);
    }
    streams.readers.forEach(Thread::start);
    return streams;
  }

  /** Completes once every stream has received the mid-body bytes; fails if one is cut before. */
  public CompletableFuture<Void> allMidBody() {
    return allMidBody;
  }

  /** What went wrong first on any stream (a cut body, an error status), or null. */
  public Throwable failure() {
    return failure;
  }

  /** How many streams have received their whole body. */
  public int ended() {
    return ended.get();
  }

  /** The body bytes each stream has received so far. */
  public long[] received() {
    long[] now = new long[received.length()];
    for (int i = 0; i < now.length; i++) {
      now[i] = received.get(i);
    }
    return now;
  }

  private void read(Selector selector) {
    ByteBuffer buffer = ByteBuffer.allocateDirect(READ_BYTES);
    try {
      while (!closed && !selector.keys().isEmpty()) {
        selector.select();
        for (SelectionKey key : selector.selectedKeys()) {
          buffer.clear();
          int n = ((SocketChannel) key.channel()).read(buffer);
          Stream stream = (Stream) key.attachment();
          if (n < 0) {
            throw new IOException("stream " + stream.index + " was cut after " + received.get(stream.index) + " body bytes");
          }
          buffer.flip();
          if (stream.took(buffer, this)) {
            key.cancel();
            key.channel().close();
          }
        }
        selector.selectedKeys().clear();
      }
    } catch (IOException | RuntimeException e) {
      if (!closed) {
        failure = e;
        allMidBody.completeExceptionally(e);
      }
    } finally {
      closeAll(selector);
    }
  }

  private static void closeAll(Selector selector) {
    try {
      for (SelectionKey key : selector.keys()) {
        key.channel().close();
      }
      selector.close();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** One client's progress through its answer; touched by one reader thread only. */
  private static final class Stream {
    private final int index;
    private final StringBuilder head = new StringBuilder();
    private long length = -1;
    private long body;

    Stream(int index) {
      this.index = index;
    }

    /** Takes what was read; returns whether the body is complete. */
    boolean took(ByteBuffer bytes, FullSpeedStreams streams) throws IOException {
      while (length < 0 && bytes.hasRemaining()) {
        head.append((char) (bytes.get() & 0xff));
        if (head.length() >= 4 && head.lastIndexOf("\r\n\r\n") == head.length() - 4) {
          length = contentLength(head.toString());
        }
      }
      if (length < 0) {
        return false;
      }
      long before = body;
      body += bytes.remaining();
      streams.received.set(index, body);
      if (before < streams.midBodyBytes && body >= streams.midBodyBytes
          && streams.midBody.incrementAndGet() == streams.received.length()) {
        streams.allMidBody.complete(null);
      }
      if (body >= length) {
        streams.ended.incrementAndGet();
        return true;
      }
      return false;
    }

    private long contentLength(String head) throws IOException {
      if (!head.startsWith("HTTP/1.1 200 ")) {
        throw new IOException("stream " + index + " was answered " + head.lines().findFirst().orElse(""));
      }
      return head.lines()
          .filter(line -> line.toLowerCase(Locale.ROOT).startsWith("content-length:"))
          .mapToLong(line -> Long.parseLong(line.substring(line.indexOf(':') + 1).trim()))
          .findFirst()
          .orElseThrow(() -> new IOException("stream " + index + " has no content-length"));
    }
  }

  /** Hangs up every client and stops the reader threads. */
  @Override
  public void close() throws InterruptedException {
    closed = true;
    selectors.forEach(Selector::wakeup);
    for (Thread reader : readers) {
      reader.join();
    }
  }
}
