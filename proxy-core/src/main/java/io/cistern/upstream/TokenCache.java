package io.cistern.upstream;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.Expiry;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Locale;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.atomic.LongAdder;

/**
 * Bearer tokens per (realm, service, scope), fetched per the distribution token spec.
 *
 * <p>Concurrency: the cache is a Caffeine {@link AsyncCache}, so concurrent requests for one scope
 * share a single in-flight token fetch (one future per key), different scopes fetch in parallel,
 * and no lock is held while the token endpoint answers. Each token expires from the cache a little
 * before its {@code expires_in}, so a request never starts with a token about to lapse.
 *
 * <p>The realm is whatever URL the upstream's challenge names, and the configured credentials go
 * there: a realm that is not http(s), or plain http for an https upstream (a downgrade that would
 * put the credentials and tokens on the wire in clear), is refused without a request.
 */
public final class TokenCache {

  /** What the token spec says to assume when a token server leaves out {@code expires_in}. */
  static final Duration DEFAULT_LIFETIME = Duration.ofSeconds(60);
  /**
   * The longest a token is kept, whatever its {@code expires_in} claims: registries issue minutes
   * (Docker Hub 300 s), and a claim of centuries would overflow the cache's clock arithmetic.
   */
  static final Duration MAX_LIFETIME = Duration.ofHours(24);
  /** A token answer is a small JSON object; registries' JWTs run to a few KiB. */
  static final int MAX_RESPONSE_BYTES = 1 << 20;

  /** Identifies a token: the scope it grants, at which service. */
  public record Key(URI realm, String service, String scope) {}

  record Token(String value, Duration lifetime) {
    /** Never prints the token. */
    @Override
    public String toString() {
      return "Token[****, " + lifetime + "]";
    }
  }

  private final HttpClient http;
  private final UpstreamSettings upstream;
  private final Credentials credentials;
  private final AsyncCache<Key, Token> tokens;
  private final LongAdder fetches = new LongAdder();

  /** @param upstream the registry these tokens are for: its credentials, timeout and scheme */
  public TokenCache(HttpClient http, UpstreamSettings upstream, Executor executor) {
    this.http = http;
    this.upstream = upstream;
    this.credentials = upstream.credentials();
    this.tokens =
        Caffeine.newBuilder()
            .executor(executor)
            .maximumSize(10_000)
            .expireAfter(Expiry.creating((Key key, Token token) -> early(token.lifetime())))
            .buildAsync();
  }

  /** A token for {@code key}: cached, joined to a fetch already under way, or fetched now. */
  public CompletableFuture<String> token(Key key) {
    String refusal = refusal(key.realm());
    if (refusal != null) {
      return CompletableFuture.failedFuture(new RegistryException(ErrorCode.UNAVAILABLE, 502, refusal, null, null));
    }
    CompletableFuture<Token> token = tokens.get(key, (k, executor) -> fetch(k));
    if (token.isCompletedExceptionally()) {
      // A fetch that failed before this call leaves the cache a moment after failing: a request
      // that comes later deserves a fetch of its own, not that old failure.
      tokens.asMap().remove(key, token);
      token = tokens.get(key, (k, executor) -> fetch(k));
    }
    return token.thenApply(Token::value);
  }

  /**
   * Drops {@code rejected} after an upstream refused it, unless the cache already holds a newer
   * token for the key (another request may have replaced it meanwhile).
   */
  public void invalidate(Key key, String rejected) {
    CompletableFuture<Token> current = tokens.getIfPresent(key);
    if (current != null && current.isDone() && !current.isCompletedExceptionally()
        && current.join().value().equals(rejected)) {
      tokens.asMap().remove(key, current);
    }
  }

  /** How many token requests were sent; a coalescing check for tests and metrics. */
  public long fetchCount() {
    return fetches.sum();
  }

  /** Why no token may be fetched from {@code realm}, or null when one may. */
  private String refusal(URI realm) {
    String scheme = realm.getScheme() == null ? "" : realm.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("https") || scheme.equals("http")) || realm.getHost() == null) {
      return "upstream " + upstream.host() + " named a token realm that is not an http(s) URL: " + realm;
    }
    // With several urls, one https url is enough to refuse: the credentials are the upstream's,
    // whichever of its urls named the realm.
    if (scheme.equals("http") && upstream.urls().stream().anyMatch(url -> url.getScheme().equalsIgnoreCase("https"))) {
      return "upstream " + upstream.host() + " is https but named a plain-http token realm, " + realm
          + "; Cistern does not send credentials or tokens in clear text";
    }
    return null;
  }

  private CompletableFuture<Token> fetch(Key key) {
    fetches.increment();
    StringBuilder uri = new StringBuilder(key.realm().toString());
    char separator = uri.indexOf("?") >= 0 ? '&' : '?';
    if (key.service() != null) {
      uri.append(separator).append("service=").append(encode(key.service()));
      separator = '&';
    }
    if (key.scope() != null) {
      for (String scope : key.scope().split(" ")) {
        uri.append(separator).append("scope=").append(encode(scope));
        separator = '&';
      }
    }
    HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(uri.toString())).timeout(upstream.responseTimeout()).GET();
    if ("http".equalsIgnoreCase(key.realm().getScheme())) {
      // As for registry requests: no h2c upgrade attempt over plain text.
      request.version(HttpClient.Version.HTTP_1_1);
    }
    if (credentials != null) {
      request.header("Authorization", credentials.basicAuthorization());
    }
    BodyHandler<byte[]> bounded = BoundedBody.upTo(MAX_RESPONSE_BYTES, () -> new RegistryException(ErrorCode.UNAVAILABLE,
        502, "the token service " + key.realm().getHost() + " sent more than " + MAX_RESPONSE_BYTES + " bytes", null, null));
    return http.sendAsync(request.build(), bounded).thenApply(response -> parse(key, response));
  }

  private Token parse(Key key, HttpResponse<byte[]> response) {
    int status = response.statusCode();
    String service = "the token service " + key.realm().getHost();
    if (status == 401 || status == 403) {
      throw new RegistryException(ErrorCode.UNAUTHORIZED, 401, credentials == null
          ? service + " refused an anonymous token for " + key.scope() + ": this upstream needs credentials"
          : service + " refused the configured credentials of " + credentials.username() + " for " + key.scope(),
          null, null);
    }
    if (status == 429 || status >= 500) {
      // Rate limits and outages keep their status (and Retry-After), as for the registry itself.
      throw UpstreamErrors.forStatus(key.realm().getHost(), status, response.headers(), ErrorCode.UNAVAILABLE);
    }
    if (status != 200) {
      throw new RegistryException(ErrorCode.UNAVAILABLE, 502, service + " answered " + status, null, null);
    }
    try {
      TokenAnswer answer = TokenAnswer.read(response.body());
      if (answer.token().isEmpty()) {
        throw new RegistryException(ErrorCode.UNAVAILABLE, 502, "token service sent no token", null, null);
      }
      long seconds = answer.expiresInSeconds();
      return new Token(answer.token(),
          seconds > 0 ? Duration.ofSeconds(Math.min(seconds, MAX_LIFETIME.toSeconds())) : DEFAULT_LIFETIME);
    } catch (IOException e) {
      throw new RegistryException(ErrorCode.UNAVAILABLE, 502, "token service sent invalid JSON", null, e);
    }
  }

  /** Expire at 90% of the lifetime so a token is never used in its last moments. */
  private static Duration early(Duration lifetime) {
    return lifetime.multipliedBy(9).dividedBy(10);
  }

  private static String encode(String value) {
    return URLEncoder.encode(value, StandardCharsets.UTF_8);
  }
}
