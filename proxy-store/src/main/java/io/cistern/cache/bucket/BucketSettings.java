package io.cistern.cache.bucket;

import java.net.URI;
import java.time.Duration;

/**
 * Where the shared bucket is and how to talk to it.
 *
 * @param bucket the bucket's name; Cistern never creates it
 * @param prefix where Cistern's objects live in it ({@code cistern}: {@code cistern/blobs/…}); empty
 *     for the bucket's root; no leading or trailing slash needed
 * @param endpoint the S3 API's address for anything but AWS ({@code http://minio:9000}); null for
 *     AWS S3, whose endpoint follows from the region
 * @param region the signing region; any name (e.g. {@code us-east-1}) for stores that ignore it
 * @param pathStyle {@code host/bucket/key} addressing, which MinIO, Ceph and s3proxy need unless
 *     their DNS serves {@code bucket.host}
 * @param keys an access key pair; null to use the AWS default chain (environment, system
 *     properties, profile files, container and instance credentials)
 * @param connectTimeout to open a connection
 * @param idleTimeout longest silence while a request or a body streams
 * @param maxConnections connections to the bucket at once; further requests queue in the client
 */
public record BucketSettings(
    String bucket,
    String prefix,
    URI endpoint,
    String region,
    boolean pathStyle,
    AccessKeys keys,
    Duration connectTimeout,
    Duration idleTimeout,
    int maxConnections) {

  /** A static access key pair; never printed. */
  public record AccessKeys(String accessKeyId, String secretAccessKey) {
    public AccessKeys {
      if (accessKeyId == null || accessKeyId.isBlank() || secretAccessKey == null || secretAccessKey.isBlank()) {
        throw new IllegalArgumentException("bucket keys need an access key id and a secret access key");
      }
    }

    @Override
    public String toString() {
      return "AccessKeys[" + accessKeyId + ", ****]";
    }
  }

  public BucketSettings {
    if (bucket == null || bucket.isBlank()) {
      throw new IllegalArgumentException("the bucket needs a name");
    }
    prefix = prefix == null ? "" : stripSlashes(prefix);
    if (prefix.contains("//")) {
      throw new IllegalArgumentException("the bucket prefix " + prefix + " has an empty segment");
    }
    if (region == null || region.isBlank()) {
      throw new IllegalArgumentException("the bucket needs a region (any name, e.g. us-east-1, for stores that ignore it)");
    }
    if (endpoint != null && !(("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme())) && endpoint.getHost() != null)) {
      throw new IllegalArgumentException("the bucket endpoint " + endpoint + " must be http(s)://host[:port]");
    }
    if (endpoint != null && endpoint.getUserInfo() != null) {
      throw new IllegalArgumentException("the bucket endpoint carries credentials; give them as keys instead");
    }
    if (connectTimeout == null || connectTimeout.isNegative() || connectTimeout.isZero()
        || idleTimeout == null || idleTimeout.isNegative() || idleTimeout.isZero()) {
      throw new IllegalArgumentException("bucket timeouts must be positive");
    }
    if (maxConnections < 1) {
      throw new IllegalArgumentException("the bucket needs at least one connection");
    }
  }

  /** Settings with the usual timeouts and connection count. */
  public static BucketSettings of(String bucket, String prefix, URI endpoint, String region, boolean pathStyle, AccessKeys keys) {
    return new BucketSettings(bucket, prefix, endpoint, region, pathStyle, keys, Duration.ofSeconds(5), Duration.ofSeconds(30), 64);
  }

  private static String stripSlashes(String text) {
    int start = 0;
    int end = text.length();
    while (start < end && text.charAt(start) == '/') {
      start++;
    }
    while (end > start && text.charAt(end - 1) == '/') {
      end--;
    }
    return text.substring(start, end);
  }
}
