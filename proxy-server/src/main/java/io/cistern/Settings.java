package io.cistern;

import io.cistern.admin.AccessLog;
import io.cistern.cache.CacheSettings;
import io.cistern.cache.bucket.BucketSettings;
import io.cistern.cluster.ClusterSettings;
import io.cistern.cluster.Member;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import io.cistern.upstream.Mirror;
import io.cistern.upstream.UpstreamRouter;
import io.cistern.upstream.UpstreamSettings;
import java.net.InetSocketAddress;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.function.Supplier;

/**
 * The configuration checked, once, right after it is loaded, and turned into the values Cistern's
 * parts take. The parts' own constructors hold the rules (an upstream url is http(s), the cache's
 * low-water mark is a fraction…); here their refusals become {@link ConfigException}s that name
 * the key, so a mistake is one line and exit code 2, before a thread, a socket or the cache is
 * opened. What lives in files and the environment (credentials, CA certificates, the proxy, the
 * TLS key, htpasswd) is read when Cistern starts, still before anything is opened.
 *
 * @param config the configuration as loaded, for the values that need no checking
 * @param upstreams each upstream's settings, in the order of {@code config.upstreams()}, without
 *     credentials yet
 * @param address where the registry listener binds
 * @param adminAddress where the admin listener binds
 * @param retryBackoff the first wait before an upstream request or download is retried; later
 *     waits double. Not a configuration key: 200 ms, which tests shorten
 * @param cluster the other members and how to reach them; null when this Cistern is not in a cluster
 * @param bucket the shared bucket, its keys still to be read from the environment at the start
 *     (null: the AWS default chain); null when there is no shared tier
 */
public record Settings(
    CisternConfig config,
    CacheSettings cache,
    List<UpstreamSettings> upstreams,
    InetSocketAddress address,
    InetSocketAddress adminAddress,
    AccessLog.Format accessLogFormat,
    Duration retryBackoff,
    ClusterSettings cluster,
    BucketSettings bucket) {

  private static final Duration RETRY_BACKOFF = Duration.ofMillis(200);

  public Settings {
    upstreams = List.copyOf(upstreams);
  }

  /** These settings with another first retry wait. */
  public Settings withRetryBackoff(Duration base) {
    return new Settings(config, cache, upstreams, address, adminAddress, accessLogFormat, base, cluster, bucket);
  }

  /** @throws ConfigException for the first value Cistern cannot run with, naming its key */
  public static Settings of(CisternConfig config) {
    CisternConfig.Cache cache = required(config.cache(), "cache");
    CisternConfig.Server server = required(config.server(), "server");
    CisternConfig.Admin admin = required(config.admin(), "admin");
    required(config.tagTtl(), "tagTtl");
    required(config.tagRevalidation(), "tagRevalidation");
    required(config.maxStale(), "maxStale");
    required(required(config.shutdown(), "shutdown").grace(), "shutdown.grace");
    positive(required(server.idleTimeout(), "server.idleTimeout"), "server.idleTimeout");
    positive(required(cache.accessFlushInterval(), "cache.accessFlushInterval"), "cache.accessFlushInterval");
    required(cache.reservationTimeout(), "cache.reservationTimeout");
    required(required(cache.scrub(), "cache.scrub").bytesPerSecond(), "cache.scrub.bytesPerSecond");
    // admin.minFreeDisk is the key's old name, from when only readiness used it.
    long minFreeBytes = (admin.minFreeDisk() != null ? admin.minFreeDisk() : required(cache.minFreeDisk(), "cache.minFreeDisk")).bytes();
    CacheSettings cacheSettings = check("cache", () -> new CacheSettings(required(cache.directory(), "cache.directory"),
        required(cache.maxBytes(), "cache.maxBytes").bytes(), cache.lowWaterFraction(), cache.accessFlushInterval(),
        cache.reservationTimeout(), cache.poolSize(), minFreeBytes));
    List<UpstreamSettings> upstreams = upstreams(config);
    List<String> hosts = upstreams.stream().map(UpstreamSettings::host).toList();
    check("upstreams", () -> UpstreamRouter.check(hosts, null));
    check("defaultUpstream", () -> UpstreamRouter.check(hosts, config.defaultUpstream()));
    for (int i = 0; i < config.upstreams().size(); i++) {
      check("upstreams[" + i + "].repositories", config.upstreams().get(i)::repositoryRules);
    }
    CisternConfig.Security security = required(config.security(), "security");
    required(security.auth(), "security.auth");
    CisternConfig.Tls tls = required(security.tls(), "security.tls");
    if (tls.enabled() && (tls.certificate() == null || tls.key() == null)) {
      throw new ConfigException("security.tls needs both certificate and key");
    }
    CisternConfig.AccessLog accessLog = required(required(config.log(), "log").access(), "log.access");
    return new Settings(config, cacheSettings, upstreams,
        check("server", () -> new InetSocketAddress(server.address(), server.port())),
        check("admin", () -> new InetSocketAddress(admin.address(), admin.port())),
        check("log.access.format", () -> AccessLog.Format.parse(required(accessLog.format(), "log.access.format"))),
        RETRY_BACKOFF, cluster(config.cluster(), server.port()), bucket(config.bucket()));
  }

  /** The cluster's settings, or null when no other member is named. */
  private static ClusterSettings cluster(CisternConfig.Cluster cluster, int serverPort) {
    if (cluster == null || !cluster.enabled()) {
      return null;
    }
    if (!cluster.members().isEmpty() && cluster.service() != null && !cluster.service().isBlank()) {
      throw new ConfigException("cluster: name the members or a service, not both");
    }
    List<Member> members = new ArrayList<>();
    for (int i = 0; i < cluster.members().size(); i++) {
      URI url = cluster.members().get(i);
      members.add(check("cluster.members[" + i + "]", () -> Member.of(required(url, "a member"))));
    }
    if (cluster.servicePort() < 1 || cluster.servicePort() > 65535) {
      throw new ConfigException("cluster.servicePort: " + cluster.servicePort() + " is not a port");
    }
    positive(required(cluster.refreshInterval(), "cluster.refreshInterval"), "cluster.refreshInterval");
    positive(required(cluster.probeInterval(), "cluster.probeInterval"), "cluster.probeInterval");
    if (cluster.token() == null || cluster.token().isBlank()) {
      throw new ConfigException("cluster.token must be set (or CISTERN_CLUSTER_TOKEN): members prove who they are with it");
    }
    Member self = cluster.self() == null ? null : check("cluster.self", () -> Member.of(cluster.self()));
    if (self == null && serverPort == 0) {
      throw new ConfigException("cluster.self must be set when server.port is 0: the other members need this one's port");
    }
    return new ClusterSettings(members, cluster.service(), cluster.servicePort(), cluster.refreshInterval(), self,
        cluster.token(), cluster.probeInterval());
  }

  /**
   * The bucket's settings without its keys (read from the environment at the start), or null
   * when no bucket is named.
   */
  private static BucketSettings bucket(CisternConfig.Bucket bucket) {
    if (bucket == null || !bucket.enabled()) {
      return null;
    }
    boolean keyId = bucket.accessKeyId() != null && !bucket.accessKeyId().isBlank();
    boolean secretEnv = bucket.secretAccessKeyEnv() != null && !bucket.secretAccessKeyEnv().isBlank();
    if (keyId != secretEnv) {
      throw new ConfigException("bucket.accessKeyId and bucket.secretAccessKeyEnv go together: set both, or neither"
          + " for the AWS default chain");
    }
    Duration ttl = required(bucket.presignTtl(), "bucket.presignTtl");
    if (ttl.compareTo(Duration.ofSeconds(1)) < 0 || ttl.compareTo(Duration.ofDays(7)) > 0) {
      throw new ConfigException("bucket.presignTtl: a presigned URL lives between 1s and 7d, not " + ttl);
    }
    return check("bucket", () -> BucketSettings.of(bucket.name(), bucket.prefix(), bucket.endpoint(),
        bucket.region(), bucket.pathStyle(), null));
  }

  private static List<UpstreamSettings> upstreams(CisternConfig config) {
    List<UpstreamSettings> upstreams = new ArrayList<>();
    for (int i = 0; i < config.upstreams().size(); i++) {
      CisternConfig.UpstreamConfig upstream = config.upstreams().get(i);
      Mirror mirror = check("upstreams[" + i + "].mirror", () -> Mirror.parse(upstream.mirror()));
      if (mirror != Mirror.NONE && upstream.url() == null && upstream.urls() == null) {
        // https://<host> is the registry itself, never a mirror of it.
        throw new ConfigException("upstreams[" + i + "].mirror: a mirror needs its url (the site cache's, e.g. http://cistern-site:5000)");
      }
      List<URI> fallbackUrls = fallbackUrls(upstream, "upstreams[" + i + "]");
      upstreams.add(check("upstreams[" + i + "]", () -> {
        UpstreamSettings defaults = UpstreamSettings.of(upstream.host(), upstream.effectiveUrl(), null);
        int maxConcurrentRequests = orDefault(upstream.maxConcurrentRequests(), defaults.maxConcurrentRequests());
        return new UpstreamSettings(
            defaults.host(),
            defaults.url(),
            null,
            orDefault(upstream.connectTimeout(), defaults.connectTimeout()),
            orDefault(upstream.responseTimeout(), defaults.responseTimeout()),
            orDefault(upstream.idleTimeout(), defaults.idleTimeout()),
            orDefault(upstream.maxRetries(), defaults.maxRetries()),
            orDefault(upstream.retryWindow(), defaults.retryWindow()),
            maxConcurrentRequests,
            // Before downloads had a cap of their own this one bounded them: a config that lowered it keeps its bound.
            orDefault(upstream.maxConcurrentBlobDownloads(), maxConcurrentRequests),
            fallbackUrls,
            orDefault(upstream.failoverMemory(), defaults.failoverMemory()),
            mirror);
      }));
    }
    return upstreams;
  }

  /**
   * The urls after the first of an upstream configured with {@code urls}, each checked as its
   * {@code url} would be; none for one configured with {@code url}.
   */
  private static List<URI> fallbackUrls(CisternConfig.UpstreamConfig upstream, String key) {
    if (upstream.urls() != null && upstream.url() != null) {
      throw new ConfigException(key + ".urls: give either url or urls, not both");
    }
    if (upstream.urls() != null && (upstream.urls().isEmpty() || upstream.urls().contains(null))) {
      throw new ConfigException(key + ".urls: list at least one url, and no empty entries");
    }
    if (upstream.failoverMemory() != null) {
      positive(upstream.failoverMemory(), key + ".failoverMemory");
    }
    List<URI> urls = upstream.urls() == null ? List.of() : upstream.urls();
    Set<URI> distinct = new HashSet<>();
    for (int j = 0; j < urls.size(); j++) {
      URI url = urls.get(j);
      URI checked = check(key + ".urls[" + j + "]", () -> UpstreamSettings.of(upstream.host(), url, null)).url();
      if (!distinct.add(checked)) {
        throw new ConfigException(key + ".urls[" + j + "]: " + checked + " is listed twice");
      }
    }
    return urls.isEmpty() ? List.of() : urls.subList(1, urls.size());
  }

  /** Builds a value whose constructor checks it, reporting a refusal as a mistake at {@code key}. */
  private static <T> T check(String key, Supplier<T> value) {
    try {
      return value.get();
    } catch (IllegalArgumentException e) {
      throw new ConfigException(key + ": " + e.getMessage());
    }
  }

  private static <T> T required(T value, String key) {
    if (value == null) {
      throw new ConfigException(key + " must be set");
    }
    return value;
  }

  private static void positive(Duration duration, String key) {
    if (duration.isZero() || duration.isNegative()) {
      throw new ConfigException(key + " must be longer than zero");
    }
  }

  private static <T> T orDefault(T value, T fallback) {
    return value != null ? value : fallback;
  }
}
