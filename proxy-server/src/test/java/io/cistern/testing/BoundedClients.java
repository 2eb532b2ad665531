package io.cistern.testing;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * HTTP/1.1 clients of a test, each request on a thread of its own and waited for at most a
 * minute: an upstream held for good fails the test instead of hanging it. Their threads are
 * stopped after each test. Register it in an instance field (or call its callbacks from a fixture
 * that owns it, as {@link BlobBehindRelay} does):
 *
 * <pre>{@code
 * @RegisterExtension
 * final BoundedClients clients = new BoundedClients();
 * }</pre>
 */
public final class BoundedClients implements BeforeEachCallback, AfterEachCallback {

  private static final long WAIT_SECONDS = 60;

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private ExecutorService threads;

  @Override
  public void beforeEach(ExtensionContext context) {
    threads = Executors.newCachedThreadPool();
  }

  @Override
  public void afterEach(ExtensionContext context) {
    threads.shutdownNow();
  }

  /**
   * GETs {@code uri} (with {@code headers} as name, value pairs) on a thread of its own; the stream
   * is there once its first bytes are in. For fan-out: start them all, then wait for all at once.
   */
  public CompletableFuture<BlobStream> openLater(URI uri, String... headers) {
    return CompletableFuture.supplyAsync(() -> BlobStream.open(http, uri, headers), threads);
  }

  /** As {@link #openLater}, waited for at most a minute. */
  public BlobStream open(URI uri, String... headers) throws Exception {
    return openLater(uri, headers).get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  /**
   * Reads the rest of {@code stream} on a thread of its own: a client that goes on reading (and so
   * keeps its socket drained) while the test does something else.
   */
  public CompletableFuture<byte[]> finishLater(BlobStream stream) {
    return CompletableFuture.supplyAsync(() -> {
      try {
        return stream.finish();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }, threads);
  }

  /** Sends {@code method} for {@code uri}, with {@code headers} as name, value pairs. */
  public CompletableFuture<HttpResponse<byte[]>> sendLater(String method, URI uri, String... headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).method(method, HttpRequest.BodyPublishers.noBody());
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.sendAsync(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /** As {@link #sendLater}, waited for at most a minute. */
  public HttpResponse<byte[]> send(String method, URI uri, String... headers) throws Exception {
    return sendLater(method, uri, headers).get(WAIT_SECONDS, TimeUnit.SECONDS);
  }

  /** GETs {@code uri}, waited for at most a minute. */
  public HttpResponse<byte[]> get(URI uri, String... headers) throws Exception {
    return send("GET", uri, headers);
  }

  /**
   * GETs every one of {@code uris} at once: one thread each, all let go together by a barrier, so
   * the requests land as one burst (the races a single flight has to survive). Returns the answers
   * in the order of {@code uris}, each waited for at most a minute.
   */
  public List<HttpResponse<byte[]>> getAtOnce(List<URI> uris, String... headers) throws Exception {
    CyclicBarrier start = new CyclicBarrier(uris.size());
    List<CompletableFuture<HttpResponse<byte[]>>> futures = new ArrayList<>();
    for (URI uri : uris) {
      futures.add(CompletableFuture.supplyAsync(() -> {
        try {
          start.await(30, TimeUnit.SECONDS);
          return get(uri, headers);
        } catch (Exception e) {
          throw new IllegalStateException(e);
        }
      }, threads));
    }
    List<HttpResponse<byte[]>> responses = new ArrayList<>();
    for (CompletableFuture<HttpResponse<byte[]>> future : futures) {
      responses.add(future.get(WAIT_SECONDS, TimeUnit.SECONDS));
    }
    return responses;
  }
}
