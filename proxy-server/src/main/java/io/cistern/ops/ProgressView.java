package io.cistern.ops;

import com.fasterxml.jackson.annotation.JsonProperty;

/**
 * A moment of a long operation's progress.
 *
 * @param phase what it is doing ("resolving", "downloading", "writing", "storing manifests")
 * @param itemsDone blobs and manifests finished
 * @param bytesDone bytes finished, including those of items under way
 * @param elapsedMillis since the operation started
 */
public record ProgressView(String phase, long itemsDone, long itemsTotal, long bytesDone, long bytesTotal,
    long elapsedMillis) {

  /** Bytes per second over the whole operation so far. */
  @JsonProperty("bytesPerSecond")
  public long bytesPerSecond() {
    return elapsedMillis <= 0 ? 0 : bytesDone * 1000 / elapsedMillis;
  }
}
