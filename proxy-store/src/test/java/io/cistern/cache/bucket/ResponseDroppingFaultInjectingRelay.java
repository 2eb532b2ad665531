package io.cistern.cache.bucket;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fault a real store cannot produce on demand: a TCP relay on 127.0.0.1 in front of the S3
 * server that passes the first PUT through, lets the store answer it, and then drops the
 * connection instead of relaying the answer, as a network does when it fails at the worst moment.
 * The client sees its PUT fail although the object landed, and retries. Every later connection is
 * relayed as it is.
 */
final class ResponseDroppingFaultInjectingRelay implements AutoCloseable {

  private final ServerSocket listener;
  private final InetSocketAddress target;
  private final ExecutorService threads = Executors.newCachedThreadPool();
  private final AtomicBoolean dropped = new AtomicBoolean();
  private final AtomicInteger puts = new AtomicInteger();

  ResponseDroppingFaultInjectingRelay(URI target) throws IOException {
    this.target = new InetSocketAddress(target.getHost(), target.getPort());
    this.listener = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    threads.execute(this::accept);
  }

  URI endpoint() {
    return URI.create("http://127.0.0.1:" + listener.getLocalPort());
  }

  /** Connections that began with a PUT. */
  int puts() {
    return puts.get();
  }

  private void accept() {
    while (!listener.isClosed()) {
      try {
        Socket client = listener.accept();
        threads.execute(() -> relay(client));
      } catch (IOException e) {
        return; // closed
      }
    }
  }

  private void relay(Socket client) {
    try (client; Socket server = new Socket(target.getAddress(), target.getPort())) {
      InputStream fromClient = client.getInputStream();
      byte[] start = fromClient.readNBytes(4);
      boolean put = new String(start, StandardCharsets.US_ASCII).equals("PUT ");
      if (put) {
        puts.incrementAndGet();
      }
      boolean drop = put && dropped.compareAndSet(false, true);
      OutputStream toServer = server.getOutputStream();
      toServer.write(start);
      threads.execute(() -> {
        copy(fromClient, toServer);
        shutdownOutput(server); // the client is done: let the store close its side too
      });
      InputStream fromServer = server.getInputStream();
      if (drop) {
        // The store has stored the object by the time it answers; the answer goes nowhere.
        fromServer.read();
        return;
      }
      copy(fromServer, client.getOutputStream());
    } catch (IOException e) {
      // One side went away; the try closes the other.
    }
  }

  private static void shutdownOutput(Socket socket) {
    try {
      socket.shutdownOutput();
    } catch (IOException e) {
      // Already closed.
    }
  }

  private static void copy(InputStream in, OutputStream out) {
    try {
      in.transferTo(out);
    } catch (IOException e) {
      // The connection ended.
    }
  }

  @Override
  public void close() throws IOException {
    listener.close();
    threads.shutdownNow();
  }
}
