package io.cistern.testing;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.Signature;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A token server per the distribution token spec, for a real Distribution with {@code auth: token}:
 * it checks Basic credentials, and signs RS256 JWTs with a test key whose self-signed certificate
 * rides in the JWT header ({@code x5c}) and is the registry's {@code rootcertbundle}. It counts
 * the fetches per scope, and can hold one scope's answer until another scope has been asked for.
 */
public final class TokenIssuer implements AutoCloseable {

  public static final String SERVICE = "cistern-test-registry";
  public static final String ISSUER = "cistern-test-issuer";
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final long LIFETIME_SECONDS = 300;

  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private volatile TestCertificates.Issued signer = TestCertificates.selfSignedCa("cistern test token signer");
  private final Path rootCertBundle;
  private final String username;
  private final String password;
  private final Map<String, AtomicInteger> fetchesByScope = new ConcurrentHashMap<>();
  private final Map<String, CountDownLatch> scopeArrived = new ConcurrentHashMap<>();
  private final Map<String, String> holdUntil = new ConcurrentHashMap<>();

  private TokenIssuer(Path directory, String username, String password) throws IOException {
    this.username = username;
    this.password = password;
    this.rootCertBundle = signer.writeCertificate(directory.resolve("token-signer.pem"));
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
    server.setExecutor(executor);
    server.createContext("/token", this::issue);
    server.start();
  }

  /** An issuer that grants pull to {@code username}:{@code password} and nothing to anyone else. */
  public static TokenIssuer start(Path directory, String username, String password) throws IOException {
    return new TokenIssuer(directory, username, password);
  }

  public URI realm() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort() + "/token");
  }

  /** The {@code auth:} section that makes a Distribution trust this issuer. */
  public String authSection() {
    return """
          token:
            realm: %s
            service: %s
            issuer: %s
            rootcertbundle: %s
        """.formatted(realm(), SERVICE, ISSUER, rootCertBundle);
  }

  /** Token requests so far for {@code scope} ({@code repository:team/app:pull}). */
  public int fetches(String scope) {
    AtomicInteger count = fetchesByScope.get(scope);
    return count == null ? 0 : count.get();
  }

  /** Waits (at most 30 s) until a fetch for {@code scope} has arrived; false if none did. */
  public boolean awaitRequested(String scope) throws InterruptedException {
    return arrived(scope).await(30, TimeUnit.SECONDS);
  }

  /**
   * Signs with a new key from now on and puts its certificate in the root bundle in place of the
   * old one: once the registry restarts, tokens issued before are refused.
   */
  public void rotateSigningKey() throws IOException {
    TestCertificates.Issued next = TestCertificates.selfSignedCa("cistern test token signer rotated");
    next.writeCertificate(rootCertBundle);
    signer = next;
  }

  /**
   * Holds the answer to a fetch for {@code held} until a fetch for {@code awaited} has arrived; if
   * that does not happen within 30 s (the fetches were serialised), answers 503 instead.
   */
  public void holdUntilRequested(String held, String awaited) {
    holdUntil.put(held, awaited);
  }

  private void issue(HttpExchange exchange) throws IOException {
    try (exchange) {
      List<String> scopes = new ArrayList<>();
      String query = exchange.getRequestURI().getRawQuery();
      for (String pair : query == null ? new String[0] : query.split("&")) {
        if (pair.startsWith("scope=")) {
          scopes.add(URLDecoder.decode(pair.substring("scope=".length()), StandardCharsets.UTF_8));
        }
      }
      for (String scope : scopes) {
        fetchesByScope.computeIfAbsent(scope, s -> new AtomicInteger()).incrementAndGet();
        arrived(scope).countDown();
      }
      for (String scope : scopes) {
        String awaited = holdUntil.get(scope);
        if (awaited != null && !arrived(awaited).await(30, TimeUnit.SECONDS)) {
          reply(exchange, 503, "{\"details\":\"the other scope's fetch never came: fetches are serialised\"}");
          return;
        }
      }
      String authorization = exchange.getRequestHeaders().getFirst("Authorization");
      String subject = "";
      if (authorization != null) {
        String expected = "Basic " + Base64.getEncoder().encodeToString((username + ":" + password).getBytes(StandardCharsets.UTF_8));
        if (!authorization.equals(expected)) {
          reply(exchange, 401, "{\"details\":\"incorrect username or password\"}");
          return;
        }
        subject = username;
      }
      // Anonymous callers get a valid token that grants nothing, as Docker Hub does for private repositories.
      List<Map<String, Object>> access = new ArrayList<>();
      if (!subject.isEmpty()) {
        for (String scope : scopes) {
          access.add(grant(scope));
        }
      }
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("token", jwt(subject, access));
      body.put("expires_in", LIFETIME_SECONDS);
      body.put("issued_at", Instant.now().toString());
      reply(exchange, 200, JSON.writeValueAsString(body));
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    } catch (GeneralSecurityException e) {
      throw new IOException(e);
    }
  }

  private CountDownLatch arrived(String scope) {
    return scopeArrived.computeIfAbsent(scope, s -> new CountDownLatch(1));
  }

  /** {@code repository:team/app:pull} becomes {type, name, actions}. */
  private static Map<String, Object> grant(String scope) {
    int first = scope.indexOf(':');
    int last = scope.lastIndexOf(':');
    Map<String, Object> entry = new LinkedHashMap<>();
    entry.put("type", scope.substring(0, first));
    entry.put("name", scope.substring(first + 1, last));
    entry.put("actions", List.of(scope.substring(last + 1).split(",")));
    return entry;
  }

  private String jwt(String subject, List<Map<String, Object>> access) throws IOException, GeneralSecurityException {
    Map<String, Object> header = new LinkedHashMap<>();
    header.put("alg", "RS256");
    header.put("typ", "JWT");
    header.put("x5c", List.of(Base64.getEncoder().encodeToString(signer.certificate().getEncoded())));
    long now = Instant.now().getEpochSecond();
    Map<String, Object> claims = new LinkedHashMap<>();
    claims.put("iss", ISSUER);
    claims.put("sub", subject);
    claims.put("aud", SERVICE);
    claims.put("exp", now + LIFETIME_SECONDS);
    claims.put("nbf", now - 10);
    claims.put("iat", now);
    claims.put("jti", UUID.randomUUID().toString());
    claims.put("access", access);
    Base64.Encoder url = Base64.getUrlEncoder().withoutPadding();
    String signingInput = url.encodeToString(JSON.writeValueAsBytes(header)) + "." + url.encodeToString(JSON.writeValueAsBytes(claims));
    Signature rs256 = Signature.getInstance("SHA256withRSA");
    rs256.initSign(signer.keys().getPrivate());
    rs256.update(signingInput.getBytes(StandardCharsets.US_ASCII));
    return signingInput + "." + url.encodeToString(rs256.sign());
  }

  private static void reply(HttpExchange exchange, int status, String json) throws IOException {
    byte[] bytes = json.getBytes(StandardCharsets.UTF_8);
    exchange.getResponseHeaders().set("Content-Type", "application/json");
    exchange.sendResponseHeaders(status, bytes.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(bytes);
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
