package io.cistern.cache;

import java.util.Locale;

/**
 * Where the bytes of a blob being filled come from, as {@code cistern_served_bytes_total} labels
 * the misses served from it.
 */
public enum FillSource {

  /** The upstream registry: this member downloads the blob itself. */
  UPSTREAM,
  /** The cluster's shared bucket. */
  BUCKET,
  /** Another member of the cluster, which owns the blob. */
  MEMBER;

  /** The metric label: {@code upstream}, {@code bucket}, {@code member}. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }
}
