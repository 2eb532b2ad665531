package io.cistern.admin;

import io.cistern.cluster.ClusterObserver;
import io.cistern.cluster.Membership;
import io.cistern.cluster.SharedBucket;
import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

/**
 * The cluster's meters: {@code cistern_cluster_peer_fetches_total{outcome}} (blob fetches from
 * other members: completed, failed, refused), {@code cistern_bucket_fills_total} (blobs and
 * manifests the local tier missed and the bucket gave), {@code cistern_bucket_uploads_total{outcome}}
 * (stored, present, failed, skipped), {@code cistern_bucket_failures_total{operation}}, and the
 * gauges {@code cistern_bucket_up} (0 or 1) and {@code cistern_cluster_members_live} (this member
 * included), each registered only where there is a bucket or a cluster.
 */
public final class ClusterMetrics implements ClusterObserver {

  private final MeterRegistry registry;

  public ClusterMetrics(MeterRegistry registry) {
    this.registry = registry;
  }

  /** Registers the gauges of what there is: {@code membership} and {@code bucket} may each be null. */
  public void bind(Membership membership, SharedBucket bucket) {
    if (bucket != null) {
      Gauge.builder("cistern.bucket.up", bucket, b -> b.reachable() ? 1 : 0)
          .description("1 while the shared bucket is reachable, 0 while pulls do without it")
          .strongReference(true).register(registry);
    }
    if (membership != null) {
      Gauge.builder("cistern.cluster.members.live", membership, m -> m.live().size())
          .description("Members of the cluster taken for live, this one included")
          .strongReference(true).register(registry);
    }
  }

  @Override
  public void peerFetch(String outcome) {
    Counter.builder("cistern.cluster.peer.fetches").description("Blob fetches from other members of the cluster, by outcome")
        .tag("outcome", outcome).register(registry).increment();
  }

  @Override
  public void bucketFill() {
    Counter.builder("cistern.bucket.fills").description("Blobs and manifests the local tier missed and the bucket gave")
        .register(registry).increment();
  }

  @Override
  public void bucketUpload(String outcome) {
    Counter.builder("cistern.bucket.uploads").description("Uploads of verified content to the bucket, by outcome")
        .tag("outcome", outcome).register(registry).increment();
  }

  @Override
  public void bucketFailure(String operation) {
    Counter.builder("cistern.bucket.failures").description("Bucket operations that failed, by operation")
        .tag("operation", operation).register(registry).increment();
  }
}
