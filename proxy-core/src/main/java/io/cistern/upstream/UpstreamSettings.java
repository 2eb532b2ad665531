package io.cistern.upstream;

import java.net.URI;
import java.time.Duration;

/**
 * How to reach one upstream registry.
 *
 * @param host the registry's name as clients know it ({@code docker.io}, {@code ghcr.io}); it
 *     keys the cache and is what {@code ?ns=} and path prefixes are matched against
 * @param url where its registry API is ({@code https://registry-1.docker.io})
 * @param credentials for basic auth or for fetching tokens; null for anonymous pulls
 * @param connectTimeout to open a connection
 * @param responseTimeout until the response headers arrive
 * @param idleTimeout longest silence while a body streams
 * @param maxRetries attempts after the first on 429/503 and dropped blob downloads
 * @param maxConcurrentRequests requests in flight to this upstream at once
 */
public record UpstreamSettings(
    String host,
    URI url,
    Credentials credentials,
    Duration connectTimeout,
    Duration responseTimeout,
    Duration idleTimeout,
    int maxRetries,
    int maxConcurrentRequests) {

  public UpstreamSettings {
    if (host == null || host.isBlank()) {
      throw new IllegalArgumentException("an upstream needs a host name");
    }
    if (url == null || !(url.getScheme().equals("http") || url.getScheme().equals("https"))) {
      throw new IllegalArgumentException("upstream " + host + " needs an http(s) url");
    }
    String path = url.getPath();
    if (path != null && path.endsWith("/")) {
      url = URI.create(url.toString().replaceAll("/+$", ""));
    }
  }

  /** Settings with Cistern's default timeouts and limits. */
  public static UpstreamSettings of(String host, URI url, Credentials credentials) {
    return new UpstreamSettings(host, url, credentials, Duration.ofSeconds(10), Duration.ofSeconds(30),
        Duration.ofSeconds(30), 3, 64);
  }

  /** Docker Hub keeps single-component official images under {@code library/}. */
  public boolean isDockerHub() {
    return host.equals("docker.io");
  }
}
