package io.cistern.cluster;

/** Told what the cluster's members and its bucket did, for metrics. */
public interface ClusterObserver {

  ClusterObserver NONE = new ClusterObserver() {};

  /**
   * A fetch of a blob from another member ended: {@code completed} (every byte came), {@code failed}
   * (no answer, an error or a cut: the next member or the upstream carries on), or {@code refused}
   * (the member's upstream has no such blob or denies it: the client is told so).
   */
  default void peerFetch(String outcome) {}

  /** A blob or manifest the local tier missed came from the bucket. */
  default void bucketFill() {}

  /** An upload of verified content ended: {@code stored}, {@code present} (there already), {@code failed} or {@code skipped} (the bucket was unreachable). */
  default void bucketUpload(String outcome) {}

  /** A bucket operation failed ({@code read}, {@code upload}, {@code document}, {@code delete}, {@code probe}). */
  default void bucketFailure(String operation) {}
}
