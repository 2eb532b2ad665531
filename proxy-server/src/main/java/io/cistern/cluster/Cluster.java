package io.cistern.cluster;

/**
 * What a Cistern shares with others: the members of its cluster and the bucket, either of which
 * may be absent (a single node; a cluster without a bucket; one node with a bucket).
 *
 * @param membership the members and their liveness, or null when this Cistern is in no cluster
 * @param members how to ask them, with {@code membership}
 * @param bucket the shared bucket, or null
 * @param observer told what members and the bucket did (metrics)
 */
public record Cluster(Membership membership, MemberClient members, SharedBucket bucket, ClusterObserver observer) {

  /** A single node with no bucket. */
  public static final Cluster NONE = new Cluster(null, null, null, ClusterObserver.NONE);

  public Cluster {
    if ((membership == null) != (members == null)) {
      throw new IllegalArgumentException("members come with a client to ask them");
    }
  }

  public boolean hasMembers() {
    return membership != null;
  }

  public boolean hasBucket() {
    return bucket != null;
  }
}
