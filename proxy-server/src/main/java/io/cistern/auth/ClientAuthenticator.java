package io.cistern.auth;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.time.Duration;
import java.util.Base64;
import java.util.HexFormat;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Decides whether a client of the registry port may pull: anyone (the default), users of an
 * htpasswd file (HTTP Basic, what {@code docker login} sends), and/or holders of one static
 * read-only token ({@code Authorization: Bearer <token>}, e.g. set as a header in containerd's
 * {@code hosts.toml} on Kubernetes nodes). Cistern only serves pulls, so any accepted client is a
 * reader.
 *
 * <p>bcrypt is slow on purpose (tens of milliseconds), and docker sends its credentials with every
 * request. So checks run on the verifier executor, never on an event loop, and their outcome is
 * remembered per distinct {@code Authorization} value (keyed by its SHA-256, so no password is kept
 * in memory) in a Caffeine {@link AsyncCache}: concurrent requests with the same header share one
 * check, and a wrong password repeated costs one check, not one per request.
 */
public final class ClientAuthenticator {

  /** The user name an accepted bearer token is logged as. */
  public static final String TOKEN_USER = "token";

  private static final Duration REMEMBER = Duration.ofMinutes(10);

  private final String realm;
  private final Htpasswd users;
  private final byte[] token;
  private final AsyncCache<String, Optional<String>> checked;

  /**
   * @param users htpasswd users, or null for none
   * @param token the static bearer token, or null for none
   * @param verifier runs the bcrypt checks
   */
  public ClientAuthenticator(String realm, Htpasswd users, String token, Executor verifier) {
    this.realm = realm == null || realm.isBlank() ? "Cistern" : realm;
    this.users = users;
    this.token = token == null || token.isEmpty() ? null : token.getBytes(StandardCharsets.UTF_8);
    this.checked = Caffeine.newBuilder()
        .executor(verifier)
        .maximumSize(10_000)
        .expireAfterWrite(REMEMBER)
        .buildAsync();
  }

  /** Lets everyone in. */
  public static ClientAuthenticator anonymous() {
    return new ClientAuthenticator(null, null, null, Runnable::run);
  }

  public boolean required() {
    return users != null || token != null;
  }

  /**
   * The {@code WWW-Authenticate} value of a 401: Basic when there are users (clients then send
   * their login), else Bearer (clients then send their configured token).
   */
  public String challenge() {
    return (users != null ? "Basic" : "Bearer") + " realm=\"" + realm.replace("\"", "") + "\"";
  }

  /**
   * Who sent {@code authorization} (an {@code Authorization} header value, or null): the user,
   * {@value #TOKEN_USER} for the bearer token, or empty when it is missing or wrong.
   */
  public CompletableFuture<Optional<String>> authenticate(String authorization) {
    if (authorization == null) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    String value = authorization.strip();
    if (token != null && value.regionMatches(true, 0, "Bearer ", 0, 7)) {
      byte[] offered = value.substring(7).strip().getBytes(StandardCharsets.UTF_8);
      // Constant time, so the comparison does not leak how much of the token was right.
      boolean accepted = MessageDigest.isEqual(token, offered);
      return CompletableFuture.completedFuture(accepted ? Optional.of(TOKEN_USER) : Optional.empty());
    }
    if (users != null && value.regionMatches(true, 0, "Basic ", 0, 6)) {
      return checked.get(sha256(value), (key, executor) ->
          CompletableFuture.supplyAsync(() -> checkBasic(value.substring(6).strip()), executor));
    }
    return CompletableFuture.completedFuture(Optional.empty());
  }

  private Optional<String> checkBasic(String encoded) {
    String decoded;
    try {
      decoded = new String(Base64.getDecoder().decode(encoded), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException notBase64) {
      return Optional.empty();
    }
    int colon = decoded.indexOf(':');
    if (colon < 0) {
      return Optional.empty();
    }
    String user = decoded.substring(0, colon);
    return users.verify(user, decoded.substring(colon + 1)) ? Optional.of(user) : Optional.empty();
  }

  private static String sha256(String value) {
    try {
      return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-256").digest(value.getBytes(StandardCharsets.UTF_8)));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JDK has SHA-256", e);
    }
  }
}
