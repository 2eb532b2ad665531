package io.cistern.cache;

import java.util.Optional;

/**
 * The cached referrers lists ({@link ReferrerRows}): for a subject manifest, which stored index
 * document lists what refers to it (signatures, SBOMs), and when that was fetched. The document
 * is stored like any manifest; the proxy decides when a list is stale.
 */
public final class Referrers {

  private final ReferrerRows rows;
  private final StorageFailures failures;

  Referrers(ReferrerRows rows, StorageFailures failures) {
    this.rows = rows;
    this.failures = failures;
  }

  public Optional<ReferrersList> find(ReferrersKey key) {
    return rows.find(key);
  }

  /** Records a list fetched from the upstream, whose document is stored already. */
  public void put(ReferrersList list) {
    failures.recording(() -> rows.put(list));
  }
}
