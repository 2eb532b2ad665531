package io.cistern.upstream;

import java.io.IOException;
import java.net.Authenticator;
import java.net.CookieHandler;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLParameters;

/**
 * An {@link HttpClient} built on its first use rather than at start. The JDK's client sets up TLS
 * as it is built (the default trust store's 150 certificates parsed, some 400 classes loaded, 3 MiB
 * of heap, a tenth of a second), which a server that has not asked its upstream anything yet does
 * not need.
 *
 * <p>Built once: the first caller builds it on its own thread; callers meanwhile wait on that
 * build's future, not on a lock. A failed build is not kept: the next use tries again.
 */
public final class DeferredHttpClient extends HttpClient {

  private final Supplier<HttpClient> factory;
  private final AtomicReference<CompletableFuture<HttpClient>> client = new AtomicReference<>();

  public DeferredHttpClient(Supplier<HttpClient> factory) {
    this.factory = factory;
  }

  private HttpClient client() {
    CompletableFuture<HttpClient> built = client.get();
    while (built == null) {
      CompletableFuture<HttpClient> mine = new CompletableFuture<>();
      if (client.compareAndSet(null, mine)) {
        try {
          mine.complete(factory.get());
        } catch (RuntimeException e) {
          client.compareAndSet(mine, null);
          mine.completeExceptionally(e);
          throw e;
        }
        return mine.join();
      }
      built = client.get(); // null again only if that build failed: then this caller tries
    }
    try {
      return built.join();
    } catch (CompletionException e) {
      throw e.getCause() instanceof RuntimeException runtime ? runtime : e;
    }
  }

  @Override
  public Optional<CookieHandler> cookieHandler() {
    return client().cookieHandler();
  }

  @Override
  public Optional<Duration> connectTimeout() {
    return client().connectTimeout();
  }

  @Override
  public Redirect followRedirects() {
    return client().followRedirects();
  }

  @Override
  public Optional<ProxySelector> proxy() {
    return client().proxy();
  }

  @Override
  public SSLContext sslContext() {
    return client().sslContext();
  }

  @Override
  public SSLParameters sslParameters() {
    return client().sslParameters();
  }

  @Override
  public Optional<Authenticator> authenticator() {
    return client().authenticator();
  }

  @Override
  public Version version() {
    return client().version();
  }

  @Override
  public Optional<Executor> executor() {
    return client().executor();
  }

  @Override
  public <T> HttpResponse<T> send(HttpRequest request, HttpResponse.BodyHandler<T> handler)
      throws IOException, InterruptedException {
    return client().send(request, handler);
  }

  @Override
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler) {
    return client().sendAsync(request, handler);
  }

  @Override
  public <T> CompletableFuture<HttpResponse<T>> sendAsync(HttpRequest request, HttpResponse.BodyHandler<T> handler,
      HttpResponse.PushPromiseHandler<T> pushPromiseHandler) {
    return client().sendAsync(request, handler, pushPromiseHandler);
  }
}
