package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.sun.net.httpserver.HttpServer;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/** The token client against a token endpoint written here: answers, credentials, errors. */
class TokenCacheTest {

  private HttpServer server;
  private final Map<String, String> answers = new ConcurrentHashMap<>();
  private final Map<String, List<String>> authorizations = new ConcurrentHashMap<>();
  private final AtomicInteger served = new AtomicInteger();

  @BeforeEach
  void start() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 10);
    server.createContext("/", exchange -> {
      try (exchange) {
        String path = exchange.getRequestURI().getPath();
        served.incrementAndGet();
        authorizations.put(path, exchange.getRequestHeaders().getOrDefault("Authorization", List.of()));
        String answer = answers.getOrDefault(path, "200 {\"token\":\"t-" + served.get() + "\"}");
        int space = answer.indexOf(' ');
        byte[] body = answer.substring(space + 1).getBytes(StandardCharsets.UTF_8);
        if (answer.startsWith("429")) {
          exchange.getResponseHeaders().set("Retry-After", "7");
        }
        exchange.sendResponseHeaders(Integer.parseInt(answer.substring(0, space)), body.length);
        try (OutputStream out = exchange.getResponseBody()) {
          out.write(body);
        }
      }
    });
    server.start();
  }

  @AfterEach
  void stop() {
    server.stop(0);
  }

  /** Tokens for a plain-http upstream, as the token server here is plain http. */
  private TokenCache tokens(Credentials credentials) {
    return tokensFor("http://registry.test", credentials);
  }

  private TokenCache tokensFor(String upstreamUrl, Credentials credentials) {
    UpstreamSettings upstream = UpstreamSettings.of("registry.test", URI.create(upstreamUrl), credentials);
    return new TokenCache(HttpClient.newHttpClient(), upstream, ForkJoinPool.commonPool());
  }

  private TokenCache.Key key(String path, String scope) {
    return new TokenCache.Key(URI.create("http://127.0.0.1:" + server.getAddress().getPort() + path), "svc", scope);
  }

  @Test
  void acceptsTokenOrAccessTokenAndSendsTheCredentials() throws Exception {
    answers.put("/oauth", "200 {\"access_token\":\"from-access-token\",\"expires_in\":300}");
    TokenCache tokens = tokens(new Credentials("bot", "pw"));
    assertEquals("from-access-token", tokens.token(key("/oauth", "repository:a:pull")).get());
    assertEquals(List.of(new Credentials("bot", "pw").basicAuthorization()), authorizations.get("/oauth"));
    answers.put("/both", "200 {\"token\":\"preferred\",\"access_token\":\"other\"}");
    assertEquals("preferred", tokens.token(key("/both", "repository:a:pull")).get());
  }

  @Test
  void aTokenClaimingCenturiesIsKeptADayAndServed() throws Exception {
    answers.put("/forever", "200 {\"token\":\"long-lived\",\"expires_in\":9000000000000000000}");
    TokenCache tokens = tokens(null);
    TokenCache.Key key = key("/forever", "repository:a:pull");
    assertEquals("long-lived", tokens.token(key).get());
    assertEquals("long-lived", tokens.token(key).get(), "cached, not refetched");
    assertEquals(1, tokens.fetchCount());
  }

  @Test
  void aCachedTokenIsReusedUntilItIsDroppedAsRefused() throws Exception {
    TokenCache tokens = tokens(null);
    TokenCache.Key key = key("/token", "repository:a:pull");
    String first = tokens.token(key).get();
    assertEquals(first, tokens.token(key).get());
    assertEquals(1, tokens.fetchCount());
    assertEquals(List.of(), authorizations.get("/token"), "anonymous: no Authorization");
    tokens.invalidate(key, "some-older-token");
    assertEquals(first, tokens.token(key).get(), "dropping a token that is not the cached one changes nothing");
    tokens.invalidate(key, first);
    assertTrue(!first.equals(tokens.token(key).get()), "a refused token is fetched anew");
    assertEquals(2, tokens.fetchCount());
  }

  @Test
  void refusalsRateLimitsAndGarbageBecomeOciErrors() {
    answers.put("/refused", "401 {}");
    answers.put("/limited", "429 {}");
    answers.put("/broken", "200 not json");
    answers.put("/empty", "200 {}");
    answers.put("/not-an-object", "200 [\"t\"]");
    answers.put("/object-token", "200 {\"token\":{\"value\":\"t\"}}");
    RegistryException refused = failure(tokens(null), "/refused");
    assertEquals(ErrorCode.UNAUTHORIZED, refused.code());
    assertTrue(refused.getMessage().contains("needs credentials"), refused.getMessage());
    RegistryException wrong = failure(tokens(new Credentials("bot", "bad")), "/refused");
    assertTrue(wrong.getMessage().contains("refused the configured credentials of bot"), wrong.getMessage());
    RegistryException limited = failure(tokens(null), "/limited");
    assertEquals(429, limited.status());
    assertEquals(Duration.ofSeconds(7), limited.retryAfter().orElseThrow());
    RegistryException broken = failure(tokens(null), "/broken");
    assertEquals(502, broken.status());
    assertEquals(ErrorCode.UNAVAILABLE, broken.code());
    assertEquals("token service sent invalid JSON", broken.getMessage());
    for (String noToken : List.of("/empty", "/not-an-object", "/object-token")) {
      RegistryException none = failure(tokens(null), noToken);
      assertEquals(502, none.status(), noToken);
      assertEquals("token service sent no token", none.getMessage(), noToken);
    }
  }

  @Test
  void aFailedFetchIsNotCached() throws Exception {
    answers.put("/flaky", "503 {}");
    TokenCache tokens = tokens(null);
    failure(tokens, "/flaky");
    answers.remove("/flaky");
    assertTrue(tokens.token(key("/flaky", "repository:a:pull")).get().startsWith("t-"));
  }

  @Test
  void anHttpsUpstreamNeverSendsItsCredentialsToAPlainHttpRealm() {
    TokenCache tokens = tokensFor("https://registry.test", new Credentials("bot", "pw"));
    RegistryException downgrade = failure(tokens, "/token");
    assertEquals(502, downgrade.status());
    assertTrue(downgrade.getMessage().contains("plain-http token realm"), downgrade.getMessage());
    TokenCache.Key notHttp = new TokenCache.Key(URI.create("file:///etc/passwd"), "svc", "repository:a:pull");
    ExecutionException refused = assertThrows(ExecutionException.class, () -> tokens(null).token(notHttp).get());
    assertEquals(502, assertInstanceOf(RegistryException.class, UpstreamErrors.unwrap(refused)).status());
    assertEquals(0, served.get(), "no request, so no credentials, left Cistern");
  }

  @Test
  void anUpstreamWithAnyHttpsUrlNeverSendsItsCredentialsToAPlainHttpRealm() {
    UpstreamSettings upstream = new UpstreamSettings("registry.test", URI.create("http://mirror.test"),
        new Credentials("bot", "pw"), Duration.ofSeconds(10), Duration.ofSeconds(30), Duration.ofSeconds(30), 3,
        Duration.ofSeconds(30), 64, 64, List.of(URI.create("https://registry.test")), Duration.ofMinutes(5), Mirror.NONE);
    TokenCache tokens = new TokenCache(HttpClient.newHttpClient(), upstream, ForkJoinPool.commonPool());
    RegistryException downgrade = failure(tokens, "/token");
    assertTrue(downgrade.getMessage().contains("plain-http token realm"), downgrade.getMessage());
    assertEquals(0, served.get(), "the credentials are the upstream's, whichever of its urls named the realm");
  }

  @Test
  void anOversizedTokenAnswerIsRefusedNotHeld() {
    answers.put("/huge", "200 {\"token\":\"" + "x".repeat(TokenCache.MAX_RESPONSE_BYTES) + "\"}");
    RegistryException huge = failure(tokens(null), "/huge");
    assertEquals(502, huge.status());
    assertTrue(huge.getMessage().contains("more than " + TokenCache.MAX_RESPONSE_BYTES + " bytes"), huge.getMessage());
  }

  @Test
  void aTokenNeverPrintsItsValue() {
    assertFalse(new TokenCache.Token("s3cret-token", Duration.ofSeconds(60)).toString().contains("s3cret-token"));
  }

  private RegistryException failure(TokenCache tokens, String path) {
    ExecutionException failed = assertThrows(ExecutionException.class, () -> tokens.token(key(path, "repository:a:pull")).get());
    return assertInstanceOf(RegistryException.class, UpstreamErrors.unwrap(failed));
  }
}
