package io.cistern.config;

import com.fasterxml.jackson.annotation.JsonProperty;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * Cistern's whole configuration, read from YAML over the embedded defaults
 * ({@code cistern-defaults.yaml}), then overridden by {@code CISTERN_*} environment variables.
 *
 * @param defaultUpstream the upstream for requests that name none; the first one when unset
 * @param offline never contact any upstream; serve what is cached
 * @param tagTtl how long a resolved tag is served without asking its upstream again
 * @param dockerConfig a docker {@code config.json} whose {@code auths} give credentials to
 *     upstreams that have none in this configuration; see {@link CredentialSources}
 */
public record CisternConfig(
    @JsonProperty("server") Server server,
    @JsonProperty("cache") Cache cache,
    @JsonProperty("upstreams") List<UpstreamConfig> upstreams,
    @JsonProperty("defaultUpstream") String defaultUpstream,
    @JsonProperty("offline") boolean offline,
    @JsonProperty("tagTtl") Duration tagTtl,
    @JsonProperty("dockerConfig") Path dockerConfig) {

  public CisternConfig {
    upstreams = upstreams == null ? List.of() : List.copyOf(upstreams);
  }

  /** The registry listener. */
  public record Server(
      @JsonProperty("address") String address,
      @JsonProperty("port") int port) {}

  /** The disk cache; see {@link io.cistern.cache.CacheSettings}. */
  public record Cache(
      @JsonProperty("directory") Path directory,
      @JsonProperty("maxBytes") ByteSize maxBytes,
      @JsonProperty("lowWaterFraction") double lowWaterFraction,
      @JsonProperty("accessFlushInterval") Duration accessFlushInterval,
      @JsonProperty("reservationTimeout") Duration reservationTimeout,
      @JsonProperty("poolSize") int poolSize) {}

  /**
   * One upstream registry.
   *
   * @param host the name clients use for it ({@code docker.io}, {@code ghcr.io})
   * @param url its API endpoint; defaults to {@code https://<host>}
   * @param caCertificate a PEM file of CA certificates trusted for this upstream, besides the system's
   * @param passwordEnv the environment variable holding the password, instead of {@code password}
   */
  public record UpstreamConfig(
      @JsonProperty("host") String host,
      @JsonProperty("url") URI url,
      @JsonProperty("username") String username,
      @JsonProperty("password") String password,
      @JsonProperty("tagTtl") Duration tagTtl,
      @JsonProperty("caCertificate") Path caCertificate,
      @JsonProperty("offline") boolean offline,
      @JsonProperty("connectTimeout") Duration connectTimeout,
      @JsonProperty("responseTimeout") Duration responseTimeout,
      @JsonProperty("idleTimeout") Duration idleTimeout,
      @JsonProperty("maxRetries") Integer maxRetries,
      @JsonProperty("maxConcurrentRequests") Integer maxConcurrentRequests,
      @JsonProperty("passwordEnv") String passwordEnv) {

    public URI effectiveUrl() {
      return url != null ? url : URI.create("https://" + host);
    }

    /** Never prints the password. */
    @Override
    public String toString() {
      return "UpstreamConfig[" + host + " at " + effectiveUrl() + (username != null ? " as " + username : "") + "]";
    }
  }
}
