package io.cistern;

import io.cistern.cache.bucket.BucketSettings;
import io.cistern.cache.bucket.S3Bucket;
import io.cistern.cluster.Cluster;
import io.cistern.cluster.ClusterObserver;
import io.cistern.cluster.ClusterSettings;
import io.cistern.cluster.Member;
import io.cistern.cluster.MemberClient;
import io.cistern.cluster.MemberResolver;
import io.cistern.cluster.MemberToken;
import io.cistern.cluster.Membership;
import io.cistern.cluster.SharedBucket;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import io.cistern.upstream.UpstreamTls;
import java.net.http.HttpClient;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ScheduledExecutorService;

/**
 * The cluster and the bucket as the settings and the environment give them: checked and read when
 * Cistern starts, before anything is opened (a secret that is not in the environment stops the
 * start), and opened once the cache is, on the threads Cistern's core owns. The AWS SDK is loaded
 * only when a bucket is named.
 */
final class SharedPlan {

  /** Opening a connection to another member takes at most this long. */
  private static final Duration MEMBER_CONNECT_TIMEOUT = Duration.ofSeconds(3);
  /** A probe gets at least this long to be answered, however short the probe interval. */
  private static final Duration MIN_PROBE_TIMEOUT = Duration.ofSeconds(3);

  /** The threads the cluster's parts run on: the core's. */
  record Threads(ExecutorService upstream, ExecutorService store, ScheduledExecutorService timer) {}

  private final ClusterSettings cluster;
  private final String scheme;
  private final Path trustedCertificates;
  private final BucketSettings bucket;
  private final CisternConfig.Bucket bucketConfig;
  private final Duration probeInterval;

  private SharedPlan(ClusterSettings cluster, String scheme, Path trustedCertificates, BucketSettings bucket,
      CisternConfig.Bucket bucketConfig, Duration probeInterval) {
    this.cluster = cluster;
    this.scheme = scheme;
    this.trustedCertificates = trustedCertificates;
    this.bucket = bucket;
    this.bucketConfig = bucketConfig;
    this.probeInterval = probeInterval;
  }

  /**
   * @param tls whether the registry port speaks HTTPS: members then reach each other by https,
   *     trusting the certificates of the registry port's own chain besides the system's
   * @throws ConfigException when the bucket's secret key is not in the environment
   */
  static SharedPlan resolve(Settings settings, Map<String, String> environment, boolean tls) {
    CisternConfig config = settings.config();
    String scheme = tls ? "https" : "http";
    ClusterSettings cluster = settings.cluster();
    if (cluster != null && cluster.self() == null) {
      cluster = cluster.withSelf(Membership.defaultSelf(scheme, settings.address().getPort()));
    }
    BucketSettings bucket = settings.bucket();
    if (bucket != null && config.bucket().accessKeyId() != null && !config.bucket().accessKeyId().isBlank()) {
      String variable = config.bucket().secretAccessKeyEnv();
      String secret = environment.get(variable);
      if (secret == null || secret.isEmpty()) {
        throw new ConfigException("bucket.secretAccessKeyEnv: the environment variable " + variable + " is not set");
      }
      bucket = new BucketSettings(bucket.bucket(), bucket.prefix(), bucket.endpoint(), bucket.region(), bucket.pathStyle(),
          new BucketSettings.AccessKeys(config.bucket().accessKeyId(), secret), bucket.connectTimeout(),
          bucket.idleTimeout(), bucket.maxConnections());
    }
    Duration probeInterval = config.cluster() != null && config.cluster().probeInterval() != null
        ? config.cluster().probeInterval()
        : Duration.ofSeconds(2);
    return new SharedPlan(cluster, scheme, tls ? config.security().tls().certificate() : null, bucket, config.bucket(),
        probeInterval);
  }

  /** The cluster's token, or null when this Cistern is in no cluster. */
  String token() {
    return cluster == null ? null : cluster.token();
  }

  /** Opens the members' client and liveness probes and the bucket, as far as they are configured. */
  Cluster open(Threads threads, ClusterObserver observer, Clock clock) {
    SharedBucket shared = null;
    try {
      if (bucket != null) {
        shared = new SharedBucket(S3Bucket.open(bucket), threads.store(), observer, bucketConfig.redirect(),
            bucketConfig.presignTtl(), clock);
        shared.start(threads.timer(), probeInterval);
      }
      if (cluster == null) {
        return new Cluster(null, null, shared, observer);
      }
      HttpClient.Builder http = HttpClient.newBuilder()
          .version(HttpClient.Version.HTTP_1_1)
          .followRedirects(HttpClient.Redirect.NEVER)
          .connectTimeout(MEMBER_CONNECT_TIMEOUT)
          .executor(threads.upstream());
      if (trustedCertificates != null) {
        http.sslContext(UpstreamTls.trusting(trustedCertificates));
      }
      Duration probeTimeout = cluster.probeInterval().compareTo(MIN_PROBE_TIMEOUT) > 0 ? cluster.probeInterval() : MIN_PROBE_TIMEOUT;
      MemberClient members = new MemberClient(http.build(), new MemberToken(cluster.token()), probeTimeout);
      Member self = cluster.self();
      Membership membership = new Membership(self, MemberResolver.of(cluster, scheme), members::probe);
      membership.start(threads.timer(), threads.upstream(), cluster.probeInterval(), cluster.refreshInterval());
      return new Cluster(membership, members, shared, observer);
    } catch (RuntimeException e) {
      if (shared != null) {
        shared.close();
      }
      throw e;
    }
  }

  /** Closes what {@link #open} opened; null does nothing. */
  static void close(Cluster cluster) {
    if (cluster == null) {
      return;
    }
    if (cluster.hasMembers()) {
      cluster.membership().close();
    }
    if (cluster.hasBucket()) {
      cluster.bucket().close();
    }
  }
}
