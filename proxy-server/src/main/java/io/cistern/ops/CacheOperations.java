package io.cistern.ops;

import io.cistern.cache.BlobCache;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.ImageCatalog;
import io.cistern.cache.BlobRecord;
import io.cistern.cache.CacheStats;
import io.cistern.cache.ImageContent;
import io.cistern.cache.PinName;
import io.cistern.cache.PinnedImageException;
import io.cistern.cache.Removal;
import io.cistern.cache.RepositoryUsage;
import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.cluster.BucketPins;
import io.cistern.cache.Tags;
import io.cistern.config.Durations;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.Platform;
import io.cistern.oci.Reference;
import io.cistern.oci.RegistryException;
import io.cistern.oci.Tag;
import io.cistern.proxy.BlobService;
import io.cistern.proxy.ManifestService;
import io.cistern.upstream.UpstreamRouter;
import io.cistern.upstream.UpstreamRouter.Route;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * What an operator can do with a cache, whatever asks: the CLI working on a cache directory
 * directly, or the admin API of a running server. Images are named as clients pull them through
 * Cistern ({@link ImageReference}); everything but {@link #warm} works on what is cached and never
 * asks an upstream.
 *
 * <p>Every method blocks (SQLite, disk, downloads): callers run them off event loops.
 */
public final class CacheOperations {

  /** How long the top-repositories aggregate is reused: it reads every repository link. */
  private static final Duration TOP_REPOSITORIES_TTL = Duration.ofSeconds(30);
  private static final int TOP_REPOSITORIES = 10;
  private static final int VERIFY_PAGE = 128;

  private record TopRepositories(long computedAtNanos, List<RepositoryUsage> usage) {}

  private final BlobCache cache;
  private final Tags tags;
  private final ImageCatalog catalog;
  private final UpstreamRouter router;
  private final BlobService blobs;
  private final Supplier<TrafficView> traffic;
  private final Supplier<List<RateLimitView>> rateLimits;
  private final Clock clock;
  private final Warmer warmer;
  private final BundleExporter exporter;
  private final BundleImporter importer;
  private final BlobVerifier verifier;
  private final BucketPins bucketPins;
  // Recomputed by whichever caller finds it stale; two callers at once both compute it, which
  // costs a second query but needs no lock.
  private volatile TopRepositories topRepositories;

  /**
   * @param traffic what clients were served since start, or a supplier of null when no server runs
   * @param rateLimits the rate limits the upstreams reported since start
   */
  public CacheOperations(CacheDirectory directory, UpstreamRouter router, ManifestService manifests, BlobService blobs,
      Supplier<TrafficView> traffic, Supplier<List<RateLimitView>> rateLimits, Clock clock) {
    this(directory, router, manifests, blobs, traffic, rateLimits, clock, null);
  }

  /** @param bucketPins pins, unpins and purges in the cluster's bucket too, or null when there is none */
  public CacheOperations(CacheDirectory directory, UpstreamRouter router, ManifestService manifests, BlobService blobs,
      Supplier<TrafficView> traffic, Supplier<List<RateLimitView>> rateLimits, Clock clock, BucketPins bucketPins) {
    this.bucketPins = bucketPins;
    this.cache = directory.blobs();
    this.tags = directory.tags();
    this.catalog = directory.catalog();
    this.router = router;
    this.blobs = blobs;
    this.traffic = traffic;
    this.rateLimits = rateLimits;
    this.clock = clock;
    this.warmer = new Warmer(router, manifests, blobs);
    this.exporter = new BundleExporter(cache);
    this.importer = new BundleImporter(cache, tags, catalog, router, clock);
    this.verifier = new BlobVerifier(cache, catalog, router);
  }

  // ---- inspecting ----

  /**
   * Cached images, in (upstream, repository, tag) order.
   *
   * @param repository only this repository's ({@code [upstream/]repository}), or null for all
   */
  public List<ImageView> images(String repository, int limit) {
    if (limit <= 0) {
      throw new OperationException(400, "limit must be positive");
    }
    if (repository == null || repository.isBlank()) {
      return catalog.images(null, null, limit).stream().map(ImageView::of).toList();
    }
    Route route = routeToCached(router, new ImageReference(repository.trim(), new Tag("latest")));
    return catalog.images(route.upstream().host(), route.repository(), limit).stream().map(ImageView::of).toList();
  }

  public StatsView stats() {
    CacheStats stats = cache.stats();
    ImageContent pinned = catalog.pinned();
    List<DownloadView> downloads = blobs.downloadsUnderWay().stream()
        .map(partial -> new DownloadView(partial.digest().toString(), partial.written(), partial.expectedSize()))
        .toList();
    return new StatsView(stats.storedBytes(), stats.maxBytes(), stats.lowWaterBytes(), stats.reservedBytes(),
        stats.entries(), pinned.blobs(), pinned.bytes(), stats.evictionPasses(), stats.evictedBlobs(),
        stats.evictedBytes(), traffic.get(), topRepositories(), downloads, rateLimits.get(),
        router.upstreams().stream().map(UpstreamUrlView::of).toList());
  }

  private List<RepositoryUsage> topRepositories() {
    TopRepositories known = topRepositories;
    long now = System.nanoTime();
    if (known == null || now - known.computedAtNanos() > TOP_REPOSITORIES_TTL.toNanos()) {
      known = new TopRepositories(now, catalog.topRepositories(TOP_REPOSITORIES));
      topRepositories = known;
    }
    return known.usage();
  }

  // ---- steering ----

  public PinView pin(String image) {
    Resolved resolved = resolveCached(image);
    ImageContent content = catalog.pinImage(resolved.localPinName(), resolved.digest());
    if (bucketPins != null) {
      inBucket(resolved.toString(), "pinned on this member only", bucketPins.pin(bucketName(resolved.localPinName()),
          resolved.toString(), resolved.digest(), pinnedObjects(resolved), cache::open));
    }
    return new PinView(resolved.toString(), resolved.digest().toString(), true, content.blobs(), content.bytes(),
        content.missing());
  }

  /** The image's blobs and manifests as this member's catalog has them. */
  private List<BucketPins.PinnedObject> pinnedObjects(Resolved resolved) {
    return catalog.imageRecords(resolved.digest()).stream()
        .map(record -> new BucketPins.PinnedObject(record.digest(), record.size(), record.mediaType()))
        .toList();
  }

  /** Waits for the bucket's part of an operation; a failure is a 503 saying what was done only here. */
  private static <T> T inBucket(String image, String done, CompletableFuture<T> work) {
    try {
      return work.join();
    } catch (CompletionException e) {
      Throwable cause = e.getCause() != null ? e.getCause() : e;
      throw new OperationException(503, image + " is " + done + ": the bucket failed (" + cause.getMessage()
          + "); run the command again once it is back");
    }
  }

  /**
   * Unpins an image, here and in the bucket. By tag: the pin made under that tag, on the image the
   * tag named when it was pinned, even if the tag points at another manifest since or is not cached
   * here; the image stays pinned if another name pins it. By digest: the image, whatever names
   * pinned it here, and the bucket's pin made by that digest.
   *
   * @throws OperationException 404 when nothing was pinned under the name, here or in the bucket
   */
  public PinView unpin(String image) {
    ImageReference reference = ImageReference.parse(image);
    Route route = routeToCached(router, reference);
    Resolved unpinned = reference.reference() instanceof Tag tag
        ? unpinTag(route, new TagKey(route.upstream().host(), route.repository(), tag))
        : unpinDigest(new Resolved(route, null, (Digest) reference.reference()));
    ImageContent content = catalog.imageContent(unpinned.digest());
    return new PinView(unpinned.toString(), unpinned.digest().toString(), catalog.isPinnedImage(unpinned.digest()),
        content.blobs(), content.bytes(), content.missing());
  }

  /** @return the image pinned under the tag: as pinned here, else as the bucket's pin document names it */
  private Resolved unpinTag(Route route, TagKey key) {
    Optional<Digest> pinnedHere = catalog.unpinName(PinName.of(key));
    Optional<BucketPins.Unpinned> pinnedInBucket = unpinInBucket(describe(route, key.tag(), null), PinName.of(key),
        pinnedHere.isPresent());
    Digest pinned = pinnedHere
        .or(() -> pinnedInBucket.flatMap(BucketPins.Unpinned::manifest))
        // A pin document edited into naming no image: the image the tag names here now, as the answer.
        .or(() -> pinnedInBucket.flatMap(removed -> tags.find(key).map(TagMapping::digest)))
        // An answer naming an image would read as if a pin had gone: a 404, as for any name an
        // operation finds nothing under.
        .orElseThrow(() -> new OperationException(404, nothingPinnedUnder(route, key)));
    return new Resolved(route, key, pinned);
  }

  private Resolved unpinDigest(Resolved digest) {
    boolean pinnedHere = catalog.unpinImage(digest.digest()).isPresent();
    boolean pinnedInBucket = unpinInBucket(digest.toString(), digest.localPinName(), pinnedHere).isPresent();
    if (!pinnedHere && !pinnedInBucket) {
      String where = bucketPins != null
          ? " on this member, nor is it pinned by its digest in the cluster's bucket"
          : "";
      throw new OperationException(404, "nothing pins " + digest + where + ", so nothing was unpinned");
    }
    return digest;
  }

  /**
   * The bucket's part of an unpin: the pin document removed, or empty when there was none (or no bucket).
   *
   * @param unpinnedHere whether this member's own pin went, which a failure's message says
   */
  private Optional<BucketPins.Unpinned> unpinInBucket(String image, PinName name, boolean unpinnedHere) {
    if (bucketPins == null) {
      return Optional.empty();
    }
    // A failure after the pin document went cannot be finished by running the unpin again (it
    // finds no document): the operator is told what to pin again instead.
    String done = (unpinnedHere
        ? "unpinned on this member, and in the bucket perhaps only in part"
        : "not pinned on this member, and perhaps unpinned in part in the bucket")
        + " (a copy another pinned image shares may be gone: pin that image again)";
    return inBucket(image, done, bucketPins.unpin(bucketName(name), cache::mediaTypeOf, cache::open));
  }

  /** Why an unpin by tag unpinned nothing, and what else pins the image the tag names here, if anything does. */
  private String nothingPinnedUnder(Route route, TagKey key) {
    String where = bucketPins != null ? " on this member or in the cluster's bucket" : "";
    String stillPinned = tags.find(key).map(TagMapping::digest).filter(catalog::isPinnedImage)
        .map(digest -> "; the image it names, " + digest + ", is pinned under another name: unpin that name, or unpin"
            + " it by digest, to let it go")
        .orElse("");
    return "nothing is pinned under " + describe(route, key.tag(), null) + where + ", so nothing was unpinned"
        + stillPinned;
  }

  /**
   * Removes an image. By tag: the tag, and the image unless another tag or repository still
   * refers to it. By digest: the image and every tag pointing at it. Either way, what other
   * images share stays.
   */
  public PurgeView purge(String image) {
    Resolved resolved = resolveCached(image);
    if (bucketPins != null) {
      if (inBucket(resolved.toString(), "not purged", bucketPins.pinned(resolved.digest()))) {
        throw new OperationException(409, resolved + " is pinned in the cluster's bucket: unpin it before purging it");
      }
      // The bucket's tag documents go first: a member that resolves the tag meanwhile finds the
      // image still here, never a tag document naming what this member removed.
      inBucket(resolved.toString(), "not purged", bucketPins.purgeTags(resolved.route().upstream().host(),
          resolved.route().repository().toString(), resolved.tag() == null ? null : resolved.tag().tag().toString(),
          resolved.digest()));
    }
    try {
      if (resolved.tag() == null) {
        Removal removal = catalog.purgeImage(resolved.digest());
        return new PurgeView(resolved.toString(), removal.blobs(), removal.bytes(), null);
      }
      if (catalog.isPinnedImage(resolved.digest())) {
        throw new OperationException(409, resolved + " is pinned: unpin it before purging it");
      }
      Optional<Removal> removal = catalog.purgeTag(resolved.tag());
      if (removal.isEmpty()) {
        throw new OperationException(404, resolved.tag() + " is not cached");
      }
      String note = removal.get().blobs() == 0
          ? "only the tag went: another tag or repository still refers to " + resolved.digest()
          : null;
      return new PurgeView(resolved.toString(), removal.get().blobs(), removal.get().bytes(), note);
    } catch (PinnedImageException e) {
      throw new OperationException(409, e.getMessage());
    }
  }

  /**
   * Removes every unpinned blob and manifest not read for {@code age}.
   *
   * @param age as the configuration writes durations: {@code 30d}, {@code 12h}
   */
  public PurgeView purgeOlderThan(String age) {
    Duration parsed = parseAge(age);
    Instant now = clock.instant();
    // An age reaching back before 1970 removes what any age since then would: nothing is older.
    Instant cutoff = parsed.compareTo(Duration.between(Instant.EPOCH, now)) >= 0 ? Instant.EPOCH : now.minus(parsed);
    Removal removal = catalog.purgeOlderThan(cutoff);
    return new PurgeView("not read for " + age.trim(), removal.blobs(), removal.bytes(), null);
  }

  private static Duration parseAge(String age) {
    if (age == null) {
      throw new OperationException(400, "name an age, e.g. 30d");
    }
    Duration parsed;
    try {
      parsed = Durations.parse(age);
    } catch (IllegalArgumentException e) {
      // Durations.parse says what is wrong, an overflow ("too long") included.
      throw new OperationException(400, e.getMessage());
    }
    if (parsed.isNegative() || parsed.isZero()) {
      throw new OperationException(400, "the age must be positive");
    }
    return parsed;
  }

  // ---- long operations ----
  // Each checks its arguments at once, so a mistake is answered before a job starts, and returns
  // the work, which the caller hands to its Jobs.

  /**
   * Pulls images into the cache through the configured upstreams.
   *
   * @param platforms {@code os/arch[/variant]} of an index to pull; empty for all
   */
  public Function<Progress, Outcome> warmJob(List<String> images, List<String> platforms) {
    List<String> references = names(images, "warm");
    refuseWhatTheRulesRefuse(references);
    List<Platform> parsed;
    try {
      parsed = platforms.stream().map(platform -> Platform.parse(Objects.requireNonNullElse(platform, ""))).toList();
    } catch (IllegalArgumentException e) {
      throw new OperationException(400, e.getMessage());
    }
    return progress -> {
      try {
        return warmer.warm(references, parsed, progress);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new OperationException(503, "warming was interrupted");
      }
    };
  }

  /** Writes cached images into a bundle at {@code out}, which must not exist. */
  public Function<Progress, Outcome> exportJob(Path out, List<String> images) {
    List<String> references = names(images, "export");
    return progress -> {
      List<Bundle.Image> resolved = new ArrayList<>();
      for (String image : references) {
        Resolved one = resolveCached(image);
        resolved.add(new Bundle.Image(one.route().upstream().host(), one.route().repository().value(),
            one.tag() == null ? null : one.tag().tag().value(), one.digest().toString(), null));
      }
      try {
        return exporter.export(out, resolved, progress);
      } catch (IOException e) {
        throw new UncheckedIOException("cannot write " + out + ": " + e.getMessage(), e);
      }
    };
  }

  /**
   * Loads the bundle {@code file}, which must be a regular file, not a link; with {@code pin}, its
   * images are pinned as they are tagged.
   */
  public Function<Progress, Outcome> importJob(Path file, boolean pin) {
    return progress -> {
      try {
        return importer.importBundle(file, pin, progress);
      } catch (IOException e) {
        throw new UncheckedIOException("import of " + file + " stopped: " + e.getMessage()
            + " (what was imported is whole; run the import again to carry on)", e);
      }
    };
  }

  /**
   * Reads back every stored blob and manifest, in digest order, and checks its size and digest;
   * with {@code repair}, moves what is damaged to quarantine and drops its row (see
   * {@link BlobVerifier}). Only this job's thread reads; pulls go on meanwhile.
   */
  public Function<Progress, Outcome> verifyJob(boolean repair) {
    return progress -> {
      CacheStats stats = cache.stats();
      progress.expect(stats.entries(), stats.storedBytes());
      progress.phase(repair ? "verifying and repairing" : "verifying");
      List<BlobProblem> problems = new ArrayList<>();
      int checked = 0;
      long bytes = 0;
      Digest after = null;
      try {
        for (List<BlobRecord> page = cache.storedAfter(null, VERIFY_PAGE); !page.isEmpty();
             page = cache.storedAfter(after, VERIFY_PAGE)) {
          for (BlobRecord row : page) {
            long[] read = {0};
            verifier.verify(row, repair, chunk -> {
              read[0] += chunk;
              progress.advance(chunk);
            }).ifPresent(problems::add);
            // What was not read (a wrong size is known without reading) counts as checked too.
            progress.advance(row.size() - read[0]);
            progress.itemDone();
            checked++;
            bytes += row.size();
            after = row.digest();
          }
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new OperationException(503, "the verification was interrupted after " + checked + " blobs");
      }
      progress.phase("done");
      return new Outcome(List.of(), checked, bytes, 0, List.of(), problems);
    };
  }

  /**
   * A warm naming an image its upstream's repository rules refuse is refused whole, before a job
   * starts and before any upstream is asked: the rules are a policy the operator's request breaks,
   * not a failure to report beside what was pulled. A name that cannot be routed at all is left to
   * the warm, which reports it beside the images it does pull, as before there were rules.
   */
  private void refuseWhatTheRulesRefuse(List<String> references) {
    List<String> refused = new ArrayList<>();
    for (String text : references) {
      try {
        route(router, ImageReference.parse(text));
      } catch (OperationException e) {
        if (e.status() == 403) {
          refused.add(e.getMessage());
        }
      } catch (RegistryException e) {
        // A bad tag or digest: the warm reports it.
      }
    }
    if (!refused.isEmpty()) {
      throw new OperationException(403, "nothing was warmed: " + String.join("; ", refused));
    }
  }

  private static List<String> names(List<String> images, String operation) {
    if (images.isEmpty() || images.stream().anyMatch(Objects::isNull)) {
      throw new OperationException(400, "name at least one image to " + operation + ", and no null");
    }
    return List.copyOf(images);
  }

  // ---- names ----

  /** An image resolved from the cache alone. */
  private record Resolved(Route route, TagKey tag, Digest digest) {

    /** The name this member records the image's pin under. */
    PinName localPinName() {
      return new PinName(route.upstream().host(), route.repository(), tag != null ? tag.tag() : digest);
    }

    @Override
    public String toString() {
      return describe(route, tag != null ? tag.tag() : digest, null);
    }
  }

  /** A pin's document name in the bucket: {@code <upstream>/<repository>/<tag|digest>}. */
  private static String bucketName(PinName name) {
    return name.upstream() + "/" + name.repository() + "/" + name.reference();
  }

  private Resolved resolveCached(String text) {
    ImageReference reference = ImageReference.parse(text);
    return resolveCached(routeToCached(router, reference), reference);
  }

  private Resolved resolveCached(Route route, ImageReference reference) {
    if (reference.reference() instanceof Digest digest) {
      if (!cache.contains(digest)) {
        throw new OperationException(404, describe(route, digest, null) + " is not cached");
      }
      return new Resolved(route, null, digest);
    }
    TagKey key = new TagKey(route.upstream().host(), route.repository(), (Tag) reference.reference());
    TagMapping mapping = tags.find(key)
        .orElseThrow(() -> new OperationException(404, describe(route, key.tag(), null) + " is not cached"));
    return new Resolved(route, key, mapping.digest());
  }

  /**
   * The upstream and repository a client pulling {@code reference} through Cistern would reach.
   *
   * @throws OperationException 403 when its upstream's repository rules refuse it, 400 for a name
   *     no configured upstream serves
   */
  static Route route(UpstreamRouter router, ImageReference reference) {
    try {
      return router.route(reference.name(), null);
    } catch (RegistryException e) {
      throw new OperationException(e.code() == ErrorCode.DENIED ? 403 : 400, reference.name() + ": " + e.getMessage());
    }
  }

  /**
   * As {@link #route}, whatever the repository rules say: listing, pinning, purging and exporting
   * work on what is cached and reach no upstream, so an operator can still tidy up what a rule
   * added later now refuses.
   */
  private static Route routeToCached(UpstreamRouter router, ImageReference reference) {
    try {
      return router.routeIgnoringRules(reference.name(), null);
    } catch (RegistryException e) {
      throw new OperationException(400, reference.name() + ": " + e.getMessage());
    }
  }

  /** {@code upstream/repository:tag[@digest]} or {@code upstream/repository@digest}. */
  static String describe(Route route, Reference reference, Digest resolved) {
    String name = route.upstream().host() + "/" + route.repository();
    if (reference instanceof Digest digest) {
      return name + "@" + digest;
    }
    return name + ":" + reference + (resolved != null ? "@" + resolved : "");
  }
}
