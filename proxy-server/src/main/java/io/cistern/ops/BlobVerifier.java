package io.cistern.ops;

import io.cistern.cache.BlobCache;
import io.cistern.cache.BlobCheck;
import io.cistern.cache.BlobRecord;
import io.cistern.cache.ImageCatalog;
import io.cistern.oci.Digest;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamRouter;
import java.io.IOException;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.Set;

/**
 * Checks one stored blob and, when asked, repairs it: the unit of work of {@code cistern verify}
 * and of the background {@link Scrub}.
 *
 * <p>A repair moves the damaged file to quarantine and drops its row ({@link BlobCache#repair}),
 * so the next pull fetches the blob again; a file is never deleted. Whether it can be fetched
 * again changes only what the report says: a pinned image's blob, or one no online upstream holds
 * (the site, or every upstream that holds it, is offline), was the only copy, and is named so
 * that an operator restores it. Stateless: any number of jobs and the scrub share it.
 */
public final class BlobVerifier {

  private final BlobCache cache;
  private final ImageCatalog catalog;
  private final UpstreamRouter router;

  public BlobVerifier(BlobCache cache, ImageCatalog catalog, UpstreamRouter router) {
    this.cache = cache;
    this.catalog = catalog;
    this.router = router;
  }

  /**
   * Checks {@code row}'s file, reading it through {@code reads}, and repairs it if {@code repair}.
   *
   * @return what is wrong and what was done; empty when it is whole, or no longer stored
   */
  public Optional<BlobProblem> verify(BlobRecord row, boolean repair, BlobCheck.Reads reads) throws InterruptedException {
    Optional<BlobCheck> checked = cache.check(row, reads);
    if (checked.isEmpty() || checked.get().intact()) {
      return Optional.empty();
    }
    BlobCheck check = checked.get();
    String problem = check.problem().name().toLowerCase(Locale.ROOT).replace('_', '-');
    boolean onlyCopy = row.pinned() || !fetchableAgain(row.digest());
    if (!repair) {
      return Optional.of(new BlobProblem(row.digest().toString(), problem, check.detail(), BlobProblem.FOUND, null, onlyCopy));
    }
    BlobCache.Repair repaired;
    try {
      repaired = cache.repair(check);
    } catch (IOException | RuntimeException e) {
      return Optional.of(new BlobProblem(row.digest().toString(), problem, check.detail() + "; the repair failed: " + e,
          BlobProblem.FAILED, null, onlyCopy));
    }
    if (repaired.replacedMeanwhile()) {
      return Optional.of(new BlobProblem(row.digest().toString(), problem, check.detail(), BlobProblem.REPLACED, null,
          false));
    }
    String action = repaired.quarantined() != null ? BlobProblem.QUARANTINED : BlobProblem.ROW_DROPPED;
    return Optional.of(new BlobProblem(row.digest().toString(), problem, check.detail(), action,
        repaired.quarantined() == null ? null : repaired.quarantined().toString(), onlyCopy));
  }

  /**
   * Whether an online upstream can give {@code digest} again: one whose repositories hold it, or,
   * for a blob no recorded manifest refers to (pulled by digest alone), any online one.
   */
  private boolean fetchableAgain(Digest digest) {
    List<Upstream> online = router.upstreams().stream().filter(upstream -> !upstream.offline()).toList();
    if (online.isEmpty()) {
      return false;
    }
    Set<String> holders = catalog.upstreamsHolding(digest);
    return holders.isEmpty() || online.stream().anyMatch(upstream -> holders.contains(upstream.host()));
  }
}
