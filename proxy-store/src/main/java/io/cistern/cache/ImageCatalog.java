package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.Set;

/**
 * The cached images as an operator steers them: a manifest and everything it refers to, pinned,
 * unpinned, purged or listed as one ({@link ImageGraph}, {@link ImageListings}).
 *
 * <p>A purge removes as an eviction pass does, and through the same evictor: rows first, in one
 * transaction, then files ({@link Evictor#freeRemoved}), so a reader that holds a file keeps
 * reading it, and only the caller that deleted a row frees its bytes. A blob read since the last
 * access flush counts as read now ({@link AccessTracker}).
 */
public final class ImageCatalog {

  private final ImageGraph graph;
  private final ImageListings listings;
  private final EvictionQueries eviction;
  private final Tags tags;
  private final Evictor evictor;
  private final AccessTracker accesses;
  private final Clock clock;

  ImageCatalog(ImageGraph graph, ImageListings listings, EvictionQueries eviction, Tags tags, Evictor evictor,
      AccessTracker accesses, Clock clock) {
    this.graph = graph;
    this.listings = listings;
    this.eviction = eviction;
    this.tags = tags;
    this.evictor = evictor;
    this.accesses = accesses;
    this.clock = clock;
  }

  /**
   * Pins an image under {@code name}: the manifest and everything it refers to that is stored, and
   * whatever of it is stored later, are never evicted until it is unpinned by that name or by its
   * digest. A name pinned before to another image now pins this one: the other stays pinned only
   * if another name pins it.
   */
  public ImageContent pinImage(PinName name, Digest manifest) {
    return content(graph.pin(name, manifest, clock.millis()));
  }

  /**
   * Removes the pin made under {@code name}, whatever its tag points at now; the image stays
   * pinned if another name pins it, and content another pinned image refers to stays pinned.
   *
   * @return the image that was pinned under the name, or empty when none was
   */
  public Optional<Digest> unpinName(PinName name) {
    Optional<Digest> unpinned = Optional.ofNullable(graph.unpin(name));
    evictor.pokeIfOverCap();
    return unpinned;
  }

  /**
   * Unpins an image, whatever names it was pinned under; content another pinned image refers to
   * stays pinned.
   *
   * @return what is stored of the image, or empty when nothing pinned it
   */
  public Optional<ImageContent> unpinImage(Digest manifest) {
    Optional<ImageContent> content = Optional.ofNullable(graph.unpin(manifest)).map(ImageCatalog::content);
    evictor.pokeIfOverCap();
    return content;
  }

  public boolean isPinnedImage(Digest manifest) {
    return graph.isPinnedImage(manifest);
  }

  /** What is stored of an image, by its manifest's digest. */
  public ImageContent imageContent(Digest manifest) {
    return content(graph.rows(manifest));
  }

  /** The stored manifests and blobs of an image, its root manifest first. */
  public List<BlobRecord> imageRecords(Digest manifest) {
    return graph.rows(manifest).stored();
  }

  private static ImageContent content(ImageGraph.ImageRows rows) {
    return new ImageContent(rows.stored().size(), rows.bytes(), rows.missing());
  }

  /**
   * Removes an image: its manifest, with its tags and repository links, and whatever it refers to
   * that no other stored manifest, tag or pin still needs. The bytes leave the budget.
   *
   * @throws PinnedImageException when the manifest is pinned (or part of a pinned image)
   */
  public Removal purgeImage(Digest manifest) {
    List<BlobRecord> deleted = graph.delete(manifest);
    if (deleted == null) {
      throw new PinnedImageException(manifest);
    }
    return removed(deleted);
  }

  /**
   * Removes a tag; the manifest it pointed at, and what that refers to, go too unless another tag
   * or repository still refers to the manifest.
   *
   * @return empty when there is no such tag
   * @throws PinnedImageException when the image would go but is pinned (the tag is gone already)
   */
  public Optional<Removal> purgeTag(TagKey key) {
    return tags.delete(key)
        .map(manifest -> manifest.stillReferenced() ? Removal.NOTHING : purgeImage(manifest.digest()));
  }

  /**
   * Removes every unpinned blob and manifest last read before {@code cutoff}, oldest first, in
   * batches as eviction does.
   */
  public Removal purgeOlderThan(Instant cutoff) {
    Removal total = Removal.NOTHING;
    long afterAccess = Long.MIN_VALUE;
    String afterDigest = "";
    while (true) {
      List<BlobRecord> page = eviction.unpinnedOlderThan(cutoff.toEpochMilli(), afterAccess, afterDigest,
          MetadataDatabase.WRITE_BATCH);
      if (page.isEmpty()) {
        return total;
      }
      BlobRecord last = page.get(page.size() - 1);
      afterAccess = last.lastAccess();
      afterDigest = last.digest().toString();
      List<BlobRecord> untouched = page.stream().filter(record -> !accesses.contains(record.digest())).toList();
      total = total.plus(removed(eviction.deleteUnchanged(untouched)));
    }
  }

  private Removal removed(List<BlobRecord> deleted) {
    evictor.freeRemoved(deleted);
    return new Removal(deleted.size(), deleted.stream().mapToLong(BlobRecord::size).sum());
  }

  /**
   * Cached images in (upstream, repository, tag) order, each with what is stored of it.
   *
   * @param upstream only this upstream's, or null for all
   * @param repository only this repository's (with {@code upstream}), or null
   */
  public List<CachedImage> images(String upstream, RepositoryName repository, int limit) {
    List<CachedImage> images = new ArrayList<>();
    for (ImageListings.ImageEntry entry : listings.images(upstream, repository, limit)) {
      ImageGraph.ImageRows rows = graph.rows(entry.digest());
      BlobRecord manifest = rows.root(entry.digest());
      Long buffered = accesses.latest(entry.digest());
      long lastAccess = Math.max(manifest == null ? 0 : manifest.lastAccess(), buffered == null ? 0 : buffered);
      images.add(new CachedImage(entry.upstream(), entry.repository(), entry.tag(), entry.digest(),
          manifest == null ? null : manifest.mediaType(), rows.bytes(), rows.stored().size(), rows.missing(),
          Instant.ofEpochMilli(lastAccess), manifest != null && manifest.pinned()));
    }
    return images;
  }

  /** The repositories holding the most bytes (an aggregate over all of them: not for hot paths). */
  public List<RepositoryUsage> topRepositories(int limit) {
    return listings.topRepositories(limit);
  }

  /** How many stored blobs and manifests are pinned, and their bytes. */
  public ImageContent pinned() {
    long[] totals = listings.pinnedTotals();
    return new ImageContent((int) totals[0], totals[1], 0);
  }

  /** The upstreams whose repositories hold {@code digest} (or a manifest that refers to it), as recorded. */
  public Set<String> upstreamsHolding(Digest digest) {
    return listings.upstreamsHolding(digest);
  }
}
