package io.cistern.config;

import io.cistern.upstream.RepositoryGlob;
import io.cistern.upstream.RepositoryRules;
import io.cistern.upstream.TagRevalidation;
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
 * @param tagRevalidation whether a client asking for a tag past its TTL is answered at once from
 *     the cache while the tag is revalidated in the background, or waits for the revalidation
 * @param maxStale how long past its TTL a tag may be served while it is revalidated in the
 *     background; an older one is revalidated before it is served
 * @param admin the admin listener: metrics, health probes, the status page and the operators' API
 * @param security what clients of the registry port must present: TLS, credentials
 * @param log log levels and the access log's format
 * @param shutdown how a stop treats the work under way
 * @param dockerConfig a docker {@code config.json} whose {@code auths} give credentials to
 *     upstreams that have none in this configuration; see {@link CredentialSources}
 * @param cluster the other members of a cluster of Cisterns; none by default
 * @param bucket the S3-compatible bucket shared as a second tier; none by default
 */
public record CisternConfig(
    Server server,
    Cache cache,
    List<UpstreamConfig> upstreams,
    String defaultUpstream,
    boolean offline,
    Duration tagTtl,
    TagRevalidation tagRevalidation,
    Duration maxStale,
    Admin admin,
    Security security,
    Log log,
    Shutdown shutdown,

    Path dockerConfig,
    Cluster cluster,
    Bucket bucket) {

  public CisternConfig {
    upstreams = upstreams == null ? List.of() : List.copyOf(upstreams);
  }

  /**
   * The registry listener.
   *
   * @param idleTimeout how long a connection may move no bytes in either direction before it is closed
   */
  public record Server(
      String address,
      int port,
      Duration idleTimeout) {}

  /**
   * The disk cache; see {@link io.cistern.cache.CacheSettings}.
   *
   * @param minFreeDisk free space kept on the cache's file system: a blob whose download would
   *     leave less is refused (507) rather than cached, and {@code /readyz} fails below it
   * @param scrub the background re-hashing of what is stored
   */
  public record Cache(
      Path directory,
      ByteSize maxBytes,
      double lowWaterFraction,
      Duration accessFlushInterval,
      Duration reservationTimeout,
      int poolSize,
      ByteSize minFreeDisk,
      Scrub scrub) {}

  /**
   * The scrub: {@code cistern verify --repair} run continuously by the server; see {@link io.cistern.ops.Scrub}.
   *
   * @param bytesPerSecond how fast it reads stored content; 0 turns it off
   */
  public record Scrub(
      ByteSize bytesPerSecond) {}

  /**
   * One upstream registry.
   *
   * @param host the name clients use for it ({@code docker.io}, {@code ghcr.io})
   * @param url its API endpoint; defaults to {@code https://<host>}
   * @param caCertificate a PEM file of CA certificates trusted for this upstream, besides the system's
   * @param passwordEnv the environment variable holding the password, instead of {@code password}
   * @param retryWindow how long a blob download retries an upstream it cannot reach; see
   *     {@link io.cistern.upstream.UpstreamSettings}
   * @param maxConcurrentRequests small requests (manifests, tag lists, referrers, HEADs) in flight at once
   * @param tagRevalidation this upstream's own {@code tagRevalidation}; unset, the top-level one
   * @param maxStale this upstream's own {@code maxStale}; unset, the top-level one
   * @param maxConcurrentBlobDownloads blob downloads in flight at once; unset, as many as
   *     {@code maxConcurrentRequests}, which before it existed capped downloads too
   * @param urls instead of {@code url}: several endpoints of the same registry, tried in order
   *     when one fails (connection failure, timeout, 5xx)
   * @param failoverMemory how long requests stay at the url that answered after an earlier one failed
   * @param repositories which of its repositories are served; null for all
   * @param mirror {@code ns} or {@code prefix} when {@code url} is a mirror (a site Cistern) that
   *     serves {@code host} among others and is told it with each request; null for the registry itself
   */
  public record UpstreamConfig(
      String host,
      URI url,
      String username,
      String password,
      Duration tagTtl,
      TagRevalidation tagRevalidation,
      Duration maxStale,
      Path caCertificate,
      boolean offline,
      Duration connectTimeout,
      Duration responseTimeout,
      Duration idleTimeout,
      Integer maxRetries,
      Duration retryWindow,
      Integer maxConcurrentRequests,
      Integer maxConcurrentBlobDownloads,
      String passwordEnv,
      List<URI> urls,
      Duration failoverMemory,
      Repositories repositories,
      String mirror) {

    /** The first url tried: {@code url}, or the first of {@code urls}, or {@code https://<host>}. */
    public URI effectiveUrl() {
      if (url == null && urls != null && !urls.isEmpty()) {
        return urls.get(0);
      }
      return url != null ? url : URI.create("https://" + host);
    }

    /** @throws IllegalArgumentException for rules Cistern cannot apply (an empty allow list) */
    public RepositoryRules repositoryRules() {
      return repositories == null ? RepositoryRules.NONE : new RepositoryRules(repositories.allow(), repositories.deny());
    }

    /** Never prints the password. */
    @Override
    public String toString() {
      return "UpstreamConfig[" + host + " at " + (urls != null ? urls : effectiveUrl()) + (username != null ? " as " + username : "") + "]";
    }
  }

  /**
   * An upstream's repository rules, {@link RepositoryRules}: each glob is checked and compiled as
   * it is read, so a bad one is a mistake at its own key ({@code upstreams[0].repositories.deny[1]}).
   *
   * @param allow globs of the repositories served; null (left out) for all that {@code deny} does not refuse
   * @param deny globs of repositories refused, whatever {@code allow} says
   */
  public record Repositories(
      List<RepositoryGlob> allow,
      List<RepositoryGlob> deny) {}

  /**
   * The admin listener, a port of its own. It serves {@code /metrics}, {@code /healthz},
   * {@code /readyz} and the status page with {@code /api/stats} to anyone who reaches it, and the
   * operators' API ({@code /api/...}): with {@code token} set, the rest of {@code /api} needs
   * {@code Authorization: Bearer <token>}; without one, listings stay open and operations (warm,
   * export, import, pin, unpin, purge) are taken only from this machine (loopback).
   *
   * @param minFreeDisk the old name of {@code cache.minFreeDisk}; when set, it is used instead
   * @param token the operators' API token (also {@code CISTERN_ADMIN_TOKEN}); null or empty for none
   * @param bundleDirectory the only directory the API exports bundles to and imports them from;
   *     null for {@code bundles} in the cache directory
   * @param idleTimeout an admin connection with no request for this long is closed
   */
  public record Admin(
      String address,
      int port,
      ByteSize minFreeDisk,
      String token,
      Path bundleDirectory,
      Duration idleTimeout) {

    public Path effectiveBundleDirectory(Path cacheDirectory) {
      return bundleDirectory != null ? bundleDirectory : cacheDirectory.resolve("bundles");
    }

    /** Never prints the token. */
    @Override
    public String toString() {
      return "Admin[" + address + ":" + port + ", token " + (token == null || token.isEmpty() ? "unset" : "set")
          + ", bundles in " + bundleDirectory + "]";
    }
  }

  /** Client-facing security of the registry port; every part is off until configured. */
  public record Security(
      Tls tls,
      ClientAuth auth) {}

  /**
   * TLS termination on the registry port, on when both files are given.
   *
   * @param certificate PEM certificate chain, the server's certificate first
   * @param key PEM private key: PKCS#8, PKCS#1 RSA or SEC 1 EC (io.cistern.http.PemPrivateKey)
   */
  public record Tls(
      Path certificate,
      Path key) {

    public boolean enabled() {
      return certificate != null || key != null;
    }
  }

  /**
   * Credentials clients must send; with neither set, pulls are anonymous.
   *
   * @param realm named in the {@code WWW-Authenticate} challenge
   * @param htpasswd a file of {@code user:bcrypt-hash} lines ({@code htpasswd -B})
   * @param bearerToken a static token accepted as {@code Authorization: Bearer <token>}
   */
  public record ClientAuth(
      String realm,
      Path htpasswd,
      String bearerToken) {

    /** Never prints the token. */
    @Override
    public String toString() {
      return "ClientAuth[realm=" + realm + ", htpasswd=" + htpasswd + ", bearerToken=" + (bearerToken == null ? null : "****") + "]";
    }
  }

  /**
   * Logging. Levels are names Logback knows ({@code DEBUG}, {@code INFO}, {@code WARN},
   * {@code OFF}…); {@code CISTERN_LOG_LEVEL} sets {@code level} as for any key.
   *
   * @param level the level of everything but the access log
   */
  public record Log(
      String level,
      AccessLog access) {}

  /**
   * One line per answered request on the {@code cistern.access} logger.
   *
   * @param format {@code text} (key=value pairs) or {@code json} (one object per line)
   * @param level {@code INFO} writes the lines, {@code OFF} silences them
   */
  public record AccessLog(
      String format,
      String level) {}

  /**
   * @param grace how long a stop waits for requests and downloads under way before it aborts
   *     them; keep it below the orchestrator's own kill timeout
   */
  public record Shutdown(
      Duration grace) {}

  /**
   * The members of a cluster of Cisterns: a static list, or a headless Service's addresses.
   *
   * @param members the members' base URLs ({@code http://cistern-0.cistern:5000}), this one included
   * @param service a DNS name whose A/AAAA records are the members (a Kubernetes headless Service)
   * @param servicePort the registry port members are reached on, with {@code service}
   * @param refreshInterval how often {@code service} is resolved again (and purges are caught up on)
   * @param self this member's URL as the others reach it; null for {@code http(s)://<first
   *     non-loopback address>:<server.port>} (also {@code CISTERN_CLUSTER_SELF})
   * @param token the secret members present to each other (also {@code CISTERN_CLUSTER_TOKEN})
   * @param probeInterval how often every member is asked whether it is live
   */
  public record Cluster(
      List<URI> members,
      String service,
      int servicePort,
      Duration refreshInterval,
      URI self,
      String token,
      Duration probeInterval) {

    public Cluster {
      members = members == null ? List.of() : List.copyOf(members);
    }

    /** Whether any other member is named: a list, or a Service to resolve. */
    public boolean enabled() {
      return !members.isEmpty() || (service != null && !service.isBlank());
    }

    /** Never prints the token. */
    @Override
    public String toString() {
      return "Cluster[members=" + members + ", service=" + service + ":" + servicePort + ", self=" + self + ", token "
          + (token == null || token.isEmpty() ? "unset" : "set") + "]";
    }
  }

  /**
   * The S3-compatible bucket shared by the members (or by one node across restarts); see
   * {@link io.cistern.cache.bucket.BucketSettings}.
   *
   * @param name the bucket; null for no shared tier
   * @param endpoint the S3 API's URL for anything but AWS; null for AWS S3 in {@code region}
   * @param accessKeyId the access key; null for the AWS default chain (environment, profile, IRSA…)
   * @param secretAccessKeyEnv the environment variable holding the secret key, with {@code accessKeyId}
   * @param redirect answer a blob GET the bucket holds with a 307 to a presigned URL
   * @param presignTtl how long such a URL works
   */
  public record Bucket(
      String name,
      URI endpoint,
      String region,
      String prefix,
      boolean pathStyle,
      String accessKeyId,
      String secretAccessKeyEnv,
      boolean redirect,
      Duration presignTtl) {

    public boolean enabled() {
      return name != null && !name.isBlank();
    }
  }
}
