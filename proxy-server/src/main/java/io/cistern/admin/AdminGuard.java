package io.cistern.admin;

import io.netty.util.NetUtil;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Locale;
import java.util.Optional;

/**
 * Decides whether an admin request may reach its endpoint. In this order:
 *
 * <ol>
 *   <li>A request whose {@code Origin} is not the listener's own (its {@code Host}) is refused
 *       (403): a web page elsewhere must not drive the API through an operator's browser.
 *   <li>{@link AdminAccess#OPEN} routes need nothing more.
 *   <li>With a token configured, other routes need {@code Authorization: Bearer <token>} (401).
 *       Without one, {@link AdminAccess#READ} routes are open, and {@link AdminAccess#OPERATE}
 *       routes are answered only for this machine (403 otherwise): a loopback peer that names a
 *       loopback host. The host matters because a DNS-rebinding page reaches 127.0.0.1 from the
 *       operator's own browser, but under its own name.
 *   <li>A POST must be {@code application/json} (415). Browsers send that type to another origin
 *       only after a CORS preflight, which this listener never grants, so no form or
 *       {@code text/plain} fetch from a web page can start an operation.
 * </ol>
 */
public final class AdminGuard {

  private static final String CHALLENGE = "Bearer realm=\"cistern-admin\"";

  /** What of a request the guard reads. */
  record Caller(InetAddress peer, String host, String origin, String authorization, String contentType) {}

  // A digest of the token rather than the token: comparing digests of equal length in constant
  // time also hides the token's length.
  private final byte[] tokenDigest;

  /** @param token what {@code Authorization: Bearer} must carry; null or empty for none */
  public AdminGuard(String token) {
    this.tokenDigest = token == null || token.isEmpty() ? null : sha256(token);
  }

  public boolean hasToken() {
    return tokenDigest != null;
  }

  /** Why {@code caller} may not call a route of {@code access} with {@code method}; empty when it may. */
  Optional<AdminResponse> refusal(String method, AdminAccess access, Caller caller) {
    if (caller.origin() != null && !sameOrigin(caller.origin(), caller.host())) {
      return Optional.of(AdminResponse.error(403, "requests from another origin (" + caller.origin() + ") are refused"));
    }
    if (access != AdminAccess.OPEN) {
      Optional<AdminResponse> denied = tokenDigest != null ? tokenRefusal(caller.authorization()) : loopbackRefusal(access, caller);
      if (denied.isPresent()) {
        return denied;
      }
    }
    if (method.equals("POST") && !isJson(caller.contentType())) {
      return Optional.of(AdminResponse.error(415, "the body must be sent as Content-Type: application/json"));
    }
    return Optional.empty();
  }

  private Optional<AdminResponse> tokenRefusal(String authorization) {
    String presented = bearerToken(authorization);
    if (presented == null) {
      return Optional.of(AdminResponse.error(401, "this needs the admin token (admin.token, CISTERN_ADMIN_TOKEN)"
          + " as Authorization: Bearer <token>").withHeader("WWW-Authenticate", CHALLENGE));
    }
    if (!MessageDigest.isEqual(tokenDigest, sha256(presented))) {
      return Optional.of(AdminResponse.error(401, "wrong admin token")
          .withHeader("WWW-Authenticate", CHALLENGE + ", error=\"invalid_token\""));
    }
    return Optional.empty();
  }

  private static Optional<AdminResponse> loopbackRefusal(AdminAccess access, Caller caller) {
    if (access == AdminAccess.READ || fromThisMachine(caller)) {
      return Optional.empty();
    }
    return Optional.of(AdminResponse.error(403, "no admin token is configured, so operations are taken only from"
        + " this machine (127.0.0.1 or localhost); set admin.token (CISTERN_ADMIN_TOKEN) on the server to allow them"
        + " from elsewhere"));
  }

  private static String bearerToken(String authorization) {
    if (authorization == null || !authorization.regionMatches(true, 0, "Bearer ", 0, 7)) {
      return null;
    }
    return authorization.substring(7).trim();
  }

  private static boolean fromThisMachine(Caller caller) {
    return caller.peer() != null && caller.peer().isLoopbackAddress() && isLoopbackHost(caller.host());
  }

  /** {@code localhost} or a loopback address literal, with or without a port; never a name lookup. */
  static boolean isLoopbackHost(String hostHeader) {
    if (hostHeader == null) {
      return false;
    }
    String name = hostName(hostHeader);
    if (name.startsWith("[") && name.endsWith("]")) {
      name = name.substring(1, name.length() - 1);
    }
    if (name.equalsIgnoreCase("localhost")) {
      return true;
    }
    // Netty parses literals only: a name is never resolved, so no DNS answer can make it loopback.
    InetAddress literal = NetUtil.createInetAddressFromIpAddressString(name);
    return literal != null && literal.isLoopbackAddress();
  }

  /** Whether {@code origin} is scheme://host[:port] naming the same host and port as the Host header. */
  static boolean sameOrigin(String origin, String hostHeader) {
    if (hostHeader == null) {
      return false;
    }
    String hostAndPort = hostHeader.trim();
    URI uri;
    try {
      uri = new URI(origin);
    } catch (URISyntaxException e) {
      return false;
    }
    String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
    int defaultPort = switch (scheme) {
      case "http" -> 80;
      case "https" -> 443; // the admin port behind a TLS-terminating proxy
      default -> -1;
    };
    if (defaultPort < 0 || uri.getHost() == null) {
      return false;
    }
    String host = hostName(hostAndPort);
    int port = hostAndPort.length() > host.length() ? parsePort(hostAndPort.substring(host.length() + 1)) : defaultPort;
    return uri.getHost().equalsIgnoreCase(host) && (uri.getPort() < 0 ? defaultPort : uri.getPort()) == port;
  }

  /** The host part of a Host header: {@code name}, {@code 1.2.3.4} or {@code [::1]}, without the port. */
  private static String hostName(String hostHeader) {
    String value = hostHeader.trim();
    if (value.startsWith("[")) {
      int end = value.indexOf(']');
      return end < 0 ? value : value.substring(0, end + 1);
    }
    int colon = value.lastIndexOf(':');
    return colon < 0 ? value : value.substring(0, colon);
  }

  private static int parsePort(String text) {
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      return -1;
    }
  }

  private static boolean isJson(String contentType) {
    if (contentType == null) {
      return false;
    }
    int parameters = contentType.indexOf(';');
    String mediaType = (parameters < 0 ? contentType : contentType.substring(0, parameters)).trim();
    return mediaType.equalsIgnoreCase("application/json");
  }

  private static byte[] sha256(String text) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(text.getBytes(StandardCharsets.UTF_8));
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }
}
