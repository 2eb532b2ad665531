package io.cistern.upstream;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.ProxySelector;
import java.net.SocketAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * The outbound proxy the environment names, read the way Go programs (docker, containerd) read it:
 * {@code HTTPS_PROXY} for https upstreams and token services, {@code HTTP_PROXY} for plain http
 * ones (upper-case names first, then lower-case), and {@code NO_PROXY} for hosts reached directly.
 * A {@code NO_PROXY} entry is {@code *} (nothing is proxied), an IP address, a CIDR block, or a
 * domain that matches itself and its subdomains ({@code .example.com}: subdomains only), each
 * optionally with {@code :port}. Loopback addresses and {@code localhost} are never proxied.
 */
public final class EnvironmentProxySelector extends ProxySelector {

  private static final Pattern IPV4 = Pattern.compile("((25[0-5]|2[0-4]\\d|1?\\d?\\d)\\.){3}(25[0-5]|2[0-4]\\d|1?\\d?\\d)");
  private static final Pattern IPV6 = Pattern.compile("[0-9a-f:.]*:[0-9a-f:.]*");
  private static final List<Proxy> DIRECT = List.of(Proxy.NO_PROXY);

  private final Proxy httpsProxy;
  private final Proxy httpProxy;
  private final List<Exclusion> exclusions;
  private final boolean proxyNothing;

  private EnvironmentProxySelector(Proxy httpsProxy, Proxy httpProxy, List<Exclusion> exclusions, boolean proxyNothing) {
    this.httpsProxy = httpsProxy;
    this.httpProxy = httpProxy;
    this.exclusions = exclusions;
    this.proxyNothing = proxyNothing;
  }

  /**
   * @throws IllegalArgumentException for a proxy Cistern cannot use: not {@code http://host:port},
   *     or with credentials in it
   */
  public static EnvironmentProxySelector from(Map<String, String> environment) {
    Proxy https = variable(environment, "HTTPS_PROXY").map(value -> proxy("HTTPS_PROXY", value)).orElse(null);
    Proxy http = variable(environment, "HTTP_PROXY").map(value -> proxy("HTTP_PROXY", value)).orElse(null);
    List<Exclusion> exclusions = new ArrayList<>();
    boolean nothing = false;
    for (String entry : variable(environment, "NO_PROXY").orElse("").split(",")) {
      String trimmed = entry.trim().toLowerCase(Locale.ROOT);
      if (trimmed.equals("*")) {
        nothing = true;
      } else if (!trimmed.isEmpty()) {
        exclusions.add(Exclusion.parse(trimmed));
      }
    }
    return new EnvironmentProxySelector(https, http, List.copyOf(exclusions), nothing);
  }

  @Override
  public List<Proxy> select(URI uri) {
    Proxy proxy = "https".equalsIgnoreCase(uri.getScheme()) ? httpsProxy : httpProxy;
    if (proxy == null || proxyNothing || uri.getHost() == null) {
      return DIRECT;
    }
    String host = unbracket(uri.getHost().toLowerCase(Locale.ROOT));
    int port = uri.getPort() >= 0 ? uri.getPort() : ("https".equalsIgnoreCase(uri.getScheme()) ? 443 : 80);
    byte[] address = ipLiteral(host).orElse(null);
    if (host.equals("localhost") || (address != null && isLoopback(address))) {
      return DIRECT;
    }
    for (Exclusion exclusion : exclusions) {
      if (exclusion.matches(host, address, port)) {
        return DIRECT;
      }
    }
    return List.of(proxy);
  }

  @Override
  public void connectFailed(URI uri, SocketAddress address, IOException failure) {
    // Nothing to learn: the environment names one proxy per scheme, with no fallback to try.
  }

  private static Optional<String> variable(Map<String, String> environment, String name) {
    String value = environment.get(name);
    if (value == null || value.isBlank()) {
      value = environment.get(name.toLowerCase(Locale.ROOT));
    }
    return value == null || value.isBlank() ? Optional.empty() : Optional.of(value.trim());
  }

  private static Proxy proxy(String variable, String value) {
    URI uri = URI.create(value.contains("://") ? value : "http://" + value);
    if (!"http".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
      throw new IllegalArgumentException(variable + " must name an http://host:port proxy (Java's HTTP client speaks"
          + " to proxies in plain HTTP and tunnels TLS through them)");
    }
    if (uri.getUserInfo() != null) {
      throw new IllegalArgumentException(variable + " carries credentials, which Cistern does not send to proxies");
    }
    int port = uri.getPort() >= 0 ? uri.getPort() : 80;
    return new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved(unbracket(uri.getHost()), port));
  }

  /** One {@code NO_PROXY} entry. */
  private record Exclusion(String domain, boolean subdomainsOnly, byte[] address, int prefixBits, int port) {

    static Exclusion parse(String entry) {
      int slash = entry.indexOf('/');
      if (slash > 0) {
        byte[] network = ipLiteral(entry.substring(0, slash))
            .orElseThrow(() -> new IllegalArgumentException("NO_PROXY entry " + entry + " is not a CIDR block"));
        return new Exclusion(null, false, network, Integer.parseInt(entry.substring(slash + 1)), -1);
      }
      String host = entry;
      int port = -1;
      int colon = entry.lastIndexOf(':');
      boolean bareIpv6 = entry.indexOf(':') != colon && !entry.startsWith("[");
      if (colon > 0 && !bareIpv6 && entry.substring(colon + 1).chars().allMatch(Character::isDigit)) {
        host = entry.substring(0, colon);
        port = Integer.parseInt(entry.substring(colon + 1));
      }
      host = unbracket(host);
      Optional<byte[]> address = ipLiteral(host);
      if (address.isPresent()) {
        return new Exclusion(null, false, address.get(), address.get().length * 8, port);
      }
      if (host.startsWith("*.")) {
        host = host.substring(1);
      }
      boolean subdomainsOnly = host.startsWith(".");
      return new Exclusion(subdomainsOnly ? host.substring(1) : host, subdomainsOnly, null, 0, port);
    }

    boolean matches(String host, byte[] hostAddress, int hostPort) {
      if (port >= 0 && port != hostPort) {
        return false;
      }
      if (address != null) {
        return hostAddress != null && inPrefix(hostAddress);
      }
      boolean subdomain = host.endsWith("." + domain);
      return subdomainsOnly ? subdomain : subdomain || host.equals(domain);
    }

    private boolean inPrefix(byte[] candidate) {
      if (candidate.length != address.length) {
        return false;
      }
      for (int bit = 0; bit < prefixBits; bit++) {
        int mask = 0x80 >>> (bit % 8);
        if ((candidate[bit / 8] & mask) != (address[bit / 8] & mask)) {
          return false;
        }
      }
      return true;
    }
  }

  /** The address of an IP literal, parsed without any name lookup; empty for a host name. */
  private static Optional<byte[]> ipLiteral(String host) {
    if (!IPV4.matcher(host).matches() && !IPV6.matcher(host).matches()) {
      return Optional.empty();
    }
    try {
      // Only strings shaped like literals get here, and InetAddress parses literals without a lookup.
      return Optional.of(InetAddress.getByName(host).getAddress());
    } catch (UnknownHostException e) {
      return Optional.empty();
    }
  }

  private static boolean isLoopback(byte[] address) {
    try {
      return InetAddress.getByAddress(address).isLoopbackAddress();
    } catch (UnknownHostException e) {
      return false;
    }
  }

  private static String unbracket(String host) {
    return host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
  }
}
