package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.Reference;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ProxySelector;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * Which connection failures the registry client retries itself, against a hand-made upstream
 * that cuts or ignores chosen connections (a real registry does neither on demand): a document
 * whose connection dropped is asked for again, up to {@code maxRetries} times, each retry
 * reported to the observer; one that timed out is not (the client has waited long enough); a
 * blob body is never re-sent here, its reader resumes it.
 */
class ConnectionRetryFaultInjectingUpstreamTest {

  private static final RepositoryName REPOSITORY = RepositoryName.of("team/app");
  /** Long enough that a loaded machine answers in time, short enough to wait out once. */
  private static final Duration RESPONSE_TIMEOUT = Duration.ofSeconds(3);
  private static final byte[] MANIFEST =
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[]}"
          .getBytes(StandardCharsets.UTF_8);

  /**
   * What the upstream does with one connection: cut its answer halfway (a connection closed before
   * any answer the JDK's client retries once by itself), or never answer.
   */
  private enum Fault { CUT, IGNORE }

  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final Queue<Fault> faults = new ConcurrentLinkedQueue<>();
  private final AtomicInteger connections = new AtomicInteger();
  private final List<RetryCause> retries = new CopyOnWriteArrayList<>();
  private final List<Socket> ignored = new CopyOnWriteArrayList<>();
  private ServerSocket server;
  private RegistryClient client;

  @BeforeEach
  void start() throws IOException {
    server = new ServerSocket(0, 50, InetAddress.getLoopbackAddress());
    executor.execute(this::serve);
    UpstreamSettings settings = new UpstreamSettings("upstream.test", URI.create("http://127.0.0.1:" + server.getLocalPort()),
        null, Duration.ofSeconds(10), RESPONSE_TIMEOUT, Duration.ofSeconds(30), 3, Duration.ofSeconds(30), 64, 64, null);
    HttpClient http = RegistryClient.newHttpClient(settings, executor, UpstreamTls.trusting(null), ProxySelector.of(null));
    client = new RegistryClient(settings, http, executor, Duration.ofMillis(1), new UpstreamObserver() {
      @Override
      public void responded(String upstream, URI url, int status) {}

      @Override
      public void failed(String upstream, URI url, Throwable cause) {}

      @Override
      public void retrying(String upstream, RetryCause cause, Duration wait) {
        retries.add(cause);
      }

      @Override
      public void rangeRelayed(String upstream) {}
    });
  }

  @AfterEach
  void stop() throws IOException {
    server.close();
    for (Socket socket : ignored) {
      socket.close();
    }
    executor.shutdownNow();
  }

  @Test
  void aManifestWhoseConnectionDroppedIsAskedForAgain() throws Exception {
    faults.addAll(List.of(Fault.CUT, Fault.CUT));

    byte[] manifest = client.getManifest(REPOSITORY, Reference.parse("latest")).get(30, TimeUnit.SECONDS).bytes();

    assertArrayEquals(MANIFEST, manifest);
    assertEquals(3, connections.get());
    assertEquals(List.of(RetryCause.DROPPED, RetryCause.DROPPED), retries);
  }

  @Test
  void aManifestWhoseConnectionKeepsDroppingFailsAfterMaxRetries() {
    faults.addAll(List.of(Fault.CUT, Fault.CUT, Fault.CUT, Fault.CUT, Fault.CUT));

    RegistryException failure = failureOf(client.getManifest(REPOSITORY, Reference.parse("latest")));

    assertEquals(502, failure.status());
    assertEquals(4, connections.get(), "the first attempt and maxRetries (3) more");
    assertEquals(3, retries.size());
  }

  @Test
  void aManifestThatTimedOutIsNotAskedForAgain() {
    faults.add(Fault.IGNORE);

    RegistryException failure = failureOf(client.getManifest(REPOSITORY, Reference.parse("latest")));

    assertEquals(504, failure.status());
    assertEquals(1, connections.get());
    assertEquals(List.of(), retries);
  }

  @Test
  void aBlobBodyIsNotResentByTheClientItsReaderResumesIt() {
    faults.add(Fault.CUT);
    Digest digest = Digest.sha256Of(new byte[] {1});

    RegistryException failure = failureOf(client.getBlob(REPOSITORY, digest, 0, HttpResponse.BodyHandlers.ofByteArray()));

    assertEquals(1, connections.get());
    assertEquals(List.of(), retries);
    assertEquals(RetryCause.DROPPED, RetryCause.ofConnectionFailure(failure), "the reader learns what to resume from");
  }

  /** Accepts connections one by one: each gets the next fault, or else the manifest (for any path), and is closed. */
  private void serve() {
    while (!server.isClosed()) {
      try {
        Socket socket = server.accept();
        connections.incrementAndGet();
        readHead(socket.getInputStream());
        Fault fault = faults.poll();
        if (fault == Fault.IGNORE) {
          ignored.add(socket);
          continue;
        }
        try (socket) {
          OutputStream out = socket.getOutputStream();
          out.write(("HTTP/1.1 200 OK\r\nContent-Type: " + MediaTypes.OCI_MANIFEST + "\r\nContent-Length: " + MANIFEST.length
              + "\r\nConnection: close\r\n\r\n").getBytes(StandardCharsets.ISO_8859_1));
          out.write(MANIFEST, 0, fault == Fault.CUT ? MANIFEST.length / 2 : MANIFEST.length);
          out.flush();
        }
      } catch (IOException closed) {
        // The test is over, or the client hung up.
      }
    }
  }

  private static void readHead(InputStream in) throws IOException {
    int matched = 0;
    byte[] end = {'\r', '\n', '\r', '\n'};
    int b;
    while (matched < end.length && (b = in.read()) >= 0) {
      matched = b == end[matched] ? matched + 1 : (b == '\r' ? 1 : 0);
    }
  }

  private static RegistryException failureOf(java.util.concurrent.CompletableFuture<?> request) {
    ExecutionException thrown = assertThrows(ExecutionException.class, () -> request.get(30, TimeUnit.SECONDS));
    return assertInstanceOf(RegistryException.class, thrown.getCause());
  }
}
