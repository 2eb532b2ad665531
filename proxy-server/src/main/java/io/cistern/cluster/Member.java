package io.cistern.cluster;

import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.Locale;

/**
 * One member of a cluster, named by the base URL the others reach its registry port at:
 * {@code scheme://host:port}, always with its port, so that every member names it alike.
 */
public record Member(URI url) {

  public Member {
    if (url == null) {
      throw new IllegalArgumentException("a member needs a URL");
    }
  }

  /**
   * The member at {@code url}, normalised: lower-case scheme and host, the scheme's default port
   * made explicit, no trailing slash.
   *
   * @throws IllegalArgumentException unless {@code url} is {@code http(s)://host[:port]}
   */
  public static Member of(URI url) {
    String scheme = url.getScheme() == null ? null : url.getScheme().toLowerCase(Locale.ROOT);
    if (!"http".equals(scheme) && !"https".equals(scheme) || url.getHost() == null) {
      throw new IllegalArgumentException(url + " is not a member URL: write http://host:port");
    }
    if (url.getRawUserInfo() != null || url.getRawQuery() != null || url.getRawFragment() != null
        || url.getRawPath() != null && !url.getRawPath().isEmpty() && !url.getRawPath().equals("/")) {
      throw new IllegalArgumentException(url + " is not a member URL: write http://host:port, nothing after the port");
    }
    int port = url.getPort() >= 0 ? url.getPort() : "https".equals(scheme) ? 443 : 80;
    return new Member(URI.create(scheme + "://" + host(url.getHost()) + ":" + port));
  }

  /** The host as every member writes it: lower case, an IPv6 literal in its full bracketed form. */
  private static String host(String host) {
    if (!host.startsWith("[")) {
      return host.toLowerCase(Locale.ROOT);
    }
    try {
      // A literal: parsed, never looked up.
      return "[" + InetAddress.getByName(host.substring(1, host.length() - 1)).getHostAddress() + "]";
    } catch (UnknownHostException e) {
      throw new IllegalArgumentException(host + " is not an IPv6 address", e);
    }
  }

  /** {@code /v2/...} on this member. */
  public URI resolve(String pathAndQuery) {
    return URI.create(url + pathAndQuery);
  }

  @Override
  public String toString() {
    return url.toString();
  }
}
