package io.cistern.upstream;

import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * How to reach one upstream registry.
 *
 * @param host the registry's name as clients know it ({@code docker.io}, {@code ghcr.io}), in
 *     lower case as host names compare; it keys the cache and is what {@code ?ns=} and path
 *     prefixes are matched against
 * @param url where its registry API is ({@code https://registry-1.docker.io}), the first url
 *     tried; no credentials in it, which would be printed wherever the url is
 * @param credentials for basic auth or for fetching tokens; null for anonymous pulls
 * @param connectTimeout to open a connection
 * @param responseTimeout until the response headers arrive
 * @param idleTimeout longest silence while a body streams
 * @param maxRetries retries of a request answered 429 or 503, or (manifests, tag lists, HEADs)
 *     refused or dropped; and of a blob download whose resumption is answered 429 or 5xx
 * @param retryWindow how long a blob download keeps retrying while the upstream cannot be reached
 *     (refused, reset, dropped mid-body, stalled): from the first failure since it last received
 *     bytes; these retries do not count against {@code maxRetries}
 * @param maxConcurrentRequests small requests in flight to this upstream at once: manifests, tag
 *     lists, referrers, HEADs (token fetches count against neither cap)
 * @param maxConcurrentBlobDownloads blob GETs in flight to this upstream at once, each until the
 *     last byte of its body
 * @param fallbackUrls where else the same registry API is, tried in order after {@code url}
 *     fails (see {@link UpstreamUrls}); empty for an upstream with one url
 * @param failoverMemory how long requests keep going to the url that answered after an earlier
 *     one failed, before {@code url} is tried again
 * @param mirror whether {@code url} is the registry or a mirror told which registry is meant
 *     ({@code host}) with each request; null for the registry
 */
public record UpstreamSettings(
    String host,
    URI url,
    Credentials credentials,
    Duration connectTimeout,
    Duration responseTimeout,
    Duration idleTimeout,
    int maxRetries,
    Duration retryWindow,
    int maxConcurrentRequests,
    int maxConcurrentBlobDownloads,
    List<URI> fallbackUrls,
    Duration failoverMemory,
    Mirror mirror) {

  /** The default of {@code failoverMemory}. */
  public static final Duration FAILOVER_MEMORY = Duration.ofMinutes(5);

  /** An upstream with a single url, the registry itself. */
  public UpstreamSettings(String host, URI url, Credentials credentials, Duration connectTimeout,
      Duration responseTimeout, Duration idleTimeout, int maxRetries, Duration retryWindow,
      int maxConcurrentRequests, int maxConcurrentBlobDownloads) {
    this(host, url, credentials, connectTimeout, responseTimeout, idleTimeout, maxRetries, retryWindow,
        maxConcurrentRequests, maxConcurrentBlobDownloads, Mirror.NONE);
  }

  /** An upstream with a single url, a registry or a {@code mirror}. */
  public UpstreamSettings(String host, URI url, Credentials credentials, Duration connectTimeout,
      Duration responseTimeout, Duration idleTimeout, int maxRetries, Duration retryWindow,
      int maxConcurrentRequests, int maxConcurrentBlobDownloads, Mirror mirror) {
    this(host, url, credentials, connectTimeout, responseTimeout, idleTimeout, maxRetries, retryWindow,
        maxConcurrentRequests, maxConcurrentBlobDownloads, List.of(), FAILOVER_MEMORY, mirror);
  }

  public UpstreamSettings {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("an upstream needs a host name");
    }
    host = host.trim().toLowerCase(Locale.ROOT);
    url = checkedUrl(url, host);
    List<URI> fallbacks = new ArrayList<>();
    for (URI fallback : fallbackUrls == null ? List.<URI>of() : fallbackUrls) {
      fallback = checkedUrl(fallback, host);
      if (fallback.equals(url) || fallbacks.contains(fallback)) {
        throw new IllegalArgumentException("the url " + fallback + " is listed twice for upstream " + host);
      }
      fallbacks.add(fallback);
    }
    fallbackUrls = List.copyOf(fallbacks);
    requirePositive(failoverMemory, "failoverMemory", host);
    requirePositive(connectTimeout, "connectTimeout", host);
    requirePositive(responseTimeout, "responseTimeout", host);
    requirePositive(idleTimeout, "idleTimeout", host);
    if (maxRetries < 0) {
      throw new IllegalArgumentException("maxRetries of upstream " + host + " must not be negative");
    }
    if (retryWindow == null || retryWindow.isNegative()) {
      throw new IllegalArgumentException("retryWindow of upstream " + host + " must not be negative");
    }
    if (maxConcurrentRequests < 1) {
      throw new IllegalArgumentException("maxConcurrentRequests of upstream " + host + " must be at least 1");
    }
    if (maxConcurrentBlobDownloads < 1) {
      throw new IllegalArgumentException("maxConcurrentBlobDownloads of upstream " + host + " must be at least 1");
    }
    mirror = mirror == null ? Mirror.NONE : mirror;
  }

  /** Settings with Cistern's default timeouts and limits. */
  public static UpstreamSettings of(String host, URI url, Credentials credentials) {
    return new UpstreamSettings(host, url, credentials, Duration.ofSeconds(10), Duration.ofSeconds(30),
        Duration.ofSeconds(30), 3, Duration.ofSeconds(30), 64, 64, Mirror.NONE);
  }

  /** These settings with {@code credentials} for the upstream. */
  public UpstreamSettings withCredentials(Credentials credentials) {
    return new UpstreamSettings(host, url, credentials, connectTimeout, responseTimeout, idleTimeout, maxRetries,
        retryWindow, maxConcurrentRequests, maxConcurrentBlobDownloads, fallbackUrls, failoverMemory, mirror);
  }

  /** Every url of the upstream in the order they are tried: {@code url}, then the fallbacks. */
  public List<URI> urls() {
    List<URI> all = new ArrayList<>(1 + fallbackUrls.size());
    all.add(url);
    all.addAll(fallbackUrls);
    return List.copyOf(all);
  }

  /** Docker Hub keeps single-component official images under {@code library/}. */
  public boolean isDockerHub() {
    return host.equals("docker.io");
  }

  /** {@code url} if it may be an upstream's url, without trailing slashes. */
  private static URI checkedUrl(URI url, String host) {
    if (url == null) {
      throw new IllegalArgumentException("upstream " + host + " needs a url");
    }
    if (url.toString().contains("@")) {
      throw new IllegalArgumentException("the url of upstream " + host
          + " carries credentials; give them as username and password (or passwordEnv) instead");
    }
    if (url.getScheme() == null) {
      throw new IllegalArgumentException("the url " + url + " of upstream " + host + " needs a scheme: https://" + url);
    }
    String scheme = url.getScheme().toLowerCase(Locale.ROOT);
    if (!(scheme.equals("http") || scheme.equals("https")) || url.getHost() == null) {
      throw new IllegalArgumentException("the url " + url + " of upstream " + host + " must be http(s)://host[:port][/path]");
    }
    if (url.getRawQuery() != null || url.getRawFragment() != null) {
      throw new IllegalArgumentException("the url " + url + " of upstream " + host + " may not have a query or fragment");
    }
    String path = url.getPath();
    return path != null && path.endsWith("/") ? URI.create(url.toString().replaceAll("/+$", "")) : url;
  }

  private static void requirePositive(Duration duration, String name, String host) {
    if (duration == null || duration.isNegative() || duration.isZero()) {
      throw new IllegalArgumentException(name + " of upstream " + host + " must be positive");
    }
  }
}
