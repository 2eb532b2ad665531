package io.cistern.proxy;

import com.github.benmanes.caffeine.cache.AsyncCache;
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.cistern.cache.BlobCache;
import io.cistern.cache.LocalStorageException;
import io.cistern.cache.ManifestLookup;
import io.cistern.cache.Referrers;
import io.cistern.cache.ReferrersKey;
import io.cistern.cache.ReferrersList;
import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.cache.Tags;
import io.cistern.cluster.Cluster;
import io.cistern.oci.AcceptHeader;
import io.cistern.oci.Descriptor;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.Manifest;
import io.cistern.oci.Platform;
import io.cistern.oci.Reference;
import io.cistern.oci.ReferrersIndex;
import io.cistern.oci.RegistryException;
import io.cistern.oci.Tag;
import io.cistern.proxy.TagRevalidationObserver.Outcome;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.TagRevalidation;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamErrors;
import io.cistern.upstream.UpstreamRouter.Route;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Pull-through for manifests. A manifest by digest is immutable: once cached it is served
 * forever. A tag is served from its cached mapping while that is younger than the upstream's tag
 * TTL; after that, one {@code HEAD} revalidates it and only a changed digest fetches anything.
 * With background revalidation (the default) the stale mapping is served at once meanwhile, and
 * the request after the {@code HEAD} answers sees what it said, unless the tag is more than
 * {@code maxStale} past its TTL or the upstream last said it was gone: then, as with blocking
 * revalidation, its clients wait for the upstream's word. When the upstream cannot be reached the
 * stale mapping is served, and for a grace period no further revalidation is attempted, so an
 * outage costs clients no time. Referrers lists are cached the same way as tags, always
 * revalidated blocking, and stored apart from them ({@link Referrers}).
 *
 * <p>Single flight: fetches by digest and tag revalidations each run once per key at a time,
 * through Caffeine {@link AsyncCache}s that hold only what is in flight ({@link SingleFlight}). A
 * fetch by digest is shared across routes, but a route's refusal is not handed to another's. Hot manifests and tag
 * mappings are kept in bounded in-memory caches in front of the disk and SQLite ({@link MutableNames});
 * blocking reads run on the store executor, never on the caller's (event loop) thread.
 *
 * <p>In a cluster ({@link ManifestOrigins}) a manifest the cache misses is looked for in the
 * bucket before the upstream, and a tag's mapping in its document there (taken as it is while
 * fresh); a stale or unknown tag goes to its repository's owner, which alone revalidates it. What
 * this member learns from the upstream is shared through the bucket, off the client's path.
 *
 * <p>A disk that cannot take what a pull learned (a full disk: {@link LocalStorageException},
 * which the cache logs) does not fail the pull: a fetched manifest is verified, so it is served
 * all the same, only not kept; the next pull fetches it again and tries again to store it.
 */
public final class ManifestService {

  private static final Logger log = LoggerFactory.getLogger(ManifestService.class);

  /**
   * A manifest and how it was found.
   *
   * @param fromCache answered without asking the upstream (a cache hit, for metrics and the access log)
   */
  public record Served(Manifest manifest, boolean fromCache) {}

  /**
   * What is held in memory for one kind of mutable name, in front of where it is stored: the
   * mappings, the names whose upstream just failed (served stale for the grace period), those it
   * last said were gone (404: never served stale in the background), and the refreshes in flight.
   * Tags and referrers lists have one each, so that a subject's list and its fallback tag, both
   * named {@code sha256-<hex>} in one repository, never meet.
   *
   * @param label what the log and errors call such a name, before its key
   */
  private record MutableNames(String label, RememberedTags mappings, Cache<TagKey, Boolean> upstreamDown,
      Cache<TagKey, Boolean> goneUpstream, AsyncCache<TagKey, TagMapping> refreshes) {}

  /** Asks the upstream what a mutable name is now; {@code known} is the mapping held, or null. */
  @FunctionalInterface
  private interface Refresh {
    /** @param mode whether the requests that found the mapping stale wait for this */
    CompletableFuture<TagMapping> apply(TagMapping known, TagRevalidation mode);
  }

  private final BlobCache cache;
  private final Tags storedTags;
  private final Referrers storedReferrers;
  private final Clock clock;
  private final Executor storeExecutor;
  private final Cache<Digest, Manifest> manifests;
  private final MutableNames tags;
  private final MutableNames referrers;
  private final AsyncCache<Digest, Manifest> fetches;
  private final TagRevalidationObserver revalidations;
  private final ManifestOrigins shared;

  /**
   * @param revalidations told how each revalidation of a cached tag ended (metrics)
   * @param cluster the bucket and members that manifests and tags the cache misses may come from,
   *     and that what the upstream answered is shared with ({@link ManifestOrigins})
   */
  public ManifestService(BlobCache cache, Tags storedTags, Referrers storedReferrers, Clock clock, Executor storeExecutor,
      Duration staleGrace, TagRevalidationObserver revalidations, Cluster cluster) {
    this.shared = new ManifestOrigins(cluster);
    this.cache = cache;
    this.storedTags = storedTags;
    this.storedReferrers = storedReferrers;
    this.clock = clock;
    this.storeExecutor = storeExecutor;
    this.manifests = Caffeine.newBuilder()
        .maximumWeight(64L << 20)
        .weigher((Digest digest, Manifest manifest) -> manifest.bytes().length + 200)
        .build();
    this.tags = mutableNames("", clock, storeExecutor, staleGrace);
    this.referrers = mutableNames("referrers list of ", clock, storeExecutor, staleGrace);
    this.fetches = Caffeine.newBuilder().executor(storeExecutor).buildAsync();
    this.revalidations = revalidations;
    cache.onEviction(this::forget);
    // An operator retagged (import) or untagged (purge) behind our back: ask the cache again.
    storedTags.onTagChange(key -> {
      tags.mappings().invalidate(key);
      tags.goneUpstream().invalidate(key);
    });
  }

  private static MutableNames mutableNames(String label, Clock clock, Executor storeExecutor, Duration staleGrace) {
    // On the injected clock, like tag freshness, so the grace period ends when the TTL logic thinks it does.
    Cache<TagKey, Boolean> upstreamDown = Caffeine.newBuilder()
        .ticker(() -> TimeUnit.MILLISECONDS.toNanos(clock.millis()))
        .expireAfterWrite(staleGrace)
        .maximumSize(50_000)
        .build();
    // Bounded like the mappings: a name that falls out is served stale in the background once
    // more before its next HEAD finds it gone again.
    Cache<TagKey, Boolean> goneUpstream = Caffeine.newBuilder().maximumSize(50_000).build();
    return new MutableNames(label, new RememberedTags(50_000), upstreamDown, goneUpstream,
        Caffeine.newBuilder().executor(storeExecutor).buildAsync());
  }

  /**
   * The manifest for a tag or digest. For a tag, the client's {@code Accept} is honoured: an index
   * it cannot take is answered with the index's linux/amd64 manifest if it takes that, as CNCF
   * Distribution does, else MANIFEST_UNKNOWN.
   */
  public CompletableFuture<Served> get(Route route, Reference reference, AcceptHeader accept) {
    return get(route, reference, accept, Caller.CLIENT);
  }

  /** As {@link #get(Route, Reference, AcceptHeader)}, for {@code caller}. */
  public CompletableFuture<Served> get(Route route, Reference reference, AcceptHeader accept, Caller caller) {
    // A member asks the repository's owner because its own mapping is stale: the owner's stale
    // one would not do, so the owner revalidates before it answers (the member's clients may
    // meanwhile be served stale by the member, as its own tagRevalidation says).
    TagRevalidation mode = caller == Caller.CLIENT ? route.upstream().tagRevalidation() : TagRevalidation.BLOCKING;
    return get(route, reference, accept, mode, caller);
  }

  /**
   * As {@link #get}, but a tag past its TTL is revalidated before it is answered, whatever the
   * upstream's {@code tagRevalidation}: for a warm, which is asked for what the tag names now.
   */
  public CompletableFuture<Served> getRevalidated(Route route, Reference reference, AcceptHeader accept) {
    return get(route, reference, accept, TagRevalidation.BLOCKING, Caller.CLIENT);
  }

  private CompletableFuture<Served> get(Route route, Reference reference, AcceptHeader accept, TagRevalidation mode,
      Caller caller) {
    if (reference instanceof Digest digest) {
      return byDigest(route, digest);
    }
    return byTag(route, (Tag) reference, mode, caller).thenCompose(served -> negotiate(route, served, accept));
  }

  /**
   * The revalidation of {@code key} under way, or a completed future when none is: whoever was
   * answered from the cache while the tag is revalidated in the background can learn from it when
   * the next request will see what the upstream said.
   */
  public CompletableFuture<Void> tagRevalidation(TagKey key) {
    CompletableFuture<TagMapping> inFlight = tags.refreshes().getIfPresent(key);
    return inFlight == null ? CompletableFuture.completedFuture(null) : inFlight.handle((mapping, failure) -> null);
  }

  private CompletableFuture<Served> byDigest(Route route, Digest digest) {
    Manifest remembered = manifests.getIfPresent(digest);
    if (remembered != null) {
      cache.recordAccess(digest);
      return CompletableFuture.completedFuture(new Served(remembered, true));
    }
    return CompletableFuture.supplyAsync(() -> cache.lookUpManifest(digest), storeExecutor).thenCompose(stored -> {
      if (stored instanceof ManifestLookup.Found found) {
        manifests.put(digest, found.manifest());
        return CompletableFuture.completedFuture(new Served(found.manifest(), true));
      }
      if (stored instanceof ManifestLookup.NotAManifest) {
        return CompletableFuture.failedFuture(notAManifest(digest));
      }
      return fetch(route, digest).thenApply(fetched -> new Served(fetched, false));
    });
  }

  private CompletableFuture<Manifest> fetch(Route route, Digest digest) {
    if (route.upstream().offline()) {
      return CompletableFuture.failedFuture(
          new RegistryException(ErrorCode.MANIFEST_UNKNOWN, "manifest " + digest + " is not cached"));
    }
    // The fetch looks at the cache once more: one that finished between this request's miss and
    // its turn at the single flight has stored the manifest, and asking the upstream again would
    // make two fetches of one digest.
    return SingleFlight.joinByRoute(fetches, digest, route, through ->
        CompletableFuture.supplyAsync(() -> cache.lookUpManifest(digest), storeExecutor)
            .thenCompose(stored -> cachedOr(stored, digest, () -> shared.fromBucket(digest).thenCompose(inBucket -> inBucket
                .map(CompletableFuture::completedFuture)
                .orElseGet(() -> through.upstream().client().getManifest(through.repository(), digest)
                    .thenApply(fetched -> {
                      shared.share(fetched);
                      return fetched;
                    }))
                .thenApplyAsync(manifest -> {
                  store(through, manifest);
                  return manifest;
                }, storeExecutor)))));
  }

  /**
   * The manifest the cache holds; MANIFEST_UNKNOWN for stored content that is none (a layer asked
   * for as a manifest: no upstream can hold a manifest under its digest); else {@code whenAbsent}.
   */
  private static CompletableFuture<Manifest> cachedOr(ManifestLookup stored, Digest digest,
      Supplier<CompletableFuture<Manifest>> whenAbsent) {
    if (stored instanceof ManifestLookup.Found found) {
      return CompletableFuture.completedFuture(found.manifest());
    }
    if (stored instanceof ManifestLookup.NotAManifest) {
      return CompletableFuture.failedFuture(notAManifest(digest));
    }
    return whenAbsent.get();
  }

  private static RegistryException notAManifest(Digest digest) {
    return new RegistryException(ErrorCode.MANIFEST_UNKNOWN, digest + " is a blob, not a manifest");
  }

  /**
   * The referrers of {@code subject}, unfiltered: from the upstream's referrers API, else from its
   * {@code sha256-<hex>} fallback tag, else none. The list is stored as an index document and
   * cached like a tag (it changes when a signature or SBOM is pushed): served for the tag TTL,
   * then fetched again, and served stale when the upstream fails.
   */
  public CompletableFuture<ReferrersIndex> referrers(Route route, Digest subject) {
    ReferrersKey stored = new ReferrersKey(route.upstream().host(), route.repository(), subject);
    // In memory the list is named by the subject's fallback tag, among referrers lists only.
    TagKey key = new TagKey(stored.upstream(), stored.repository(), new Tag(subject.referrersTag()));
    Supplier<Optional<TagMapping>> find = () -> storedReferrers.find(stored)
        .map(list -> new TagMapping(key, list.list(), list.fetchedAt()));
    return mutable(route, key, referrers, find, TagRevalidation.BLOCKING, (known, mode) -> fetchReferrers(route, stored, key))
        .thenApply(served -> ReferrersIndex.parse(served.manifest().bytes()));
  }

  private CompletableFuture<Served> byTag(Route route, Tag tag, TagRevalidation requested, Caller caller) {
    TagKey key = new TagKey(route.upstream().host(), route.repository(), tag);
    return mutable(route, key, tags, () -> storedTags.find(key), requested,
        (known, mode) -> refreshTag(route, key, known, mode, caller));
  }

  /**
   * Brings a tag's mapping up to date, the cluster's way first: a mapping another member confirmed
   * within the TTL (its document in the bucket) is taken as it is, with no upstream contact; else
   * the repository's owner is asked, and it revalidates the tag for the whole cluster; else (this
   * member owns the repository, or no member above it answers) this member asks the upstream
   * itself, starting from the newest mapping it knows of, and shares what it learns.
   */
  private CompletableFuture<TagMapping> refreshTag(Route route, TagKey key, TagMapping known, TagRevalidation mode,
      Caller caller) {
    return shared.sharedTag(key).thenCompose(inBucket -> {
      TagMapping latest = newest(known, inBucket.orElse(null));
      if (latest != null && latest != known && isFresh(latest, route.upstream())) {
        return byDigest(route, latest.digest())
            .thenApplyAsync(served -> cache.contains(latest.digest()) ? rememberTag(latest) : rememberInMemory(tags, latest),
                storeExecutor);
      }
      return shared.fromOwner(route, key, caller).thenCompose(owned -> owned.isPresent()
          ? CompletableFuture.supplyAsync(() -> {
            // Confirmed just now by the owner, for this request.
            TagMapping mapping = new TagMapping(key, owned.get().digest(), clock.instant());
            return store(route, owned.get()) ? rememberTag(mapping) : rememberInMemory(tags, mapping);
          }, storeExecutor)
          : latest == null ? fetchTag(route, key) : revalidate(route, key, latest, mode));
    });
  }

  private static TagMapping newest(TagMapping one, TagMapping other) {
    if (one == null || other == null) {
      return one == null ? other : one;
    }
    return other.resolvedAt().isAfter(one.resolvedAt()) ? other : one;
  }

  /**
   * The document behind a mutable name (a tag, a referrers list): served from its mapping while
   * that is fresh, or while the upstream may not or cannot be asked; else {@code refresh}ed once
   * per key at a time, and when that fails the stale mapping is served if there is one. With
   * background revalidation the stale mapping is served without waiting for the refresh.
   *
   * @param stored reads the mapping from the cache (blocking), when memory has none
   * @param requested the revalidation asked for; background turns blocking past {@code maxStale}
   */
  private CompletableFuture<Served> mutable(Route route, TagKey key, MutableNames names,
      Supplier<Optional<TagMapping>> stored, TagRevalidation requested, Refresh refresh) {
    return knownMapping(key, names, stored).thenCompose(known -> {
      Upstream upstream = route.upstream();
      if (known.isPresent()
          && (isFresh(known.get(), upstream) || upstream.offline() || names.upstreamDown().getIfPresent(key) != null)) {
        return byDigest(route, known.get().digest());
      }
      if (upstream.offline()) {
        return CompletableFuture.failedFuture(
            new RegistryException(ErrorCode.MANIFEST_UNKNOWN, names.label() + key + " is not cached"));
      }
      if (known.isPresent() && mayServeWhileRevalidating(key, known.get(), names, upstream, requested)) {
        // Joined (or started) before the cached answer goes out, never after: a client holding
        // that answer knows the revalidation has begun, and its failures end in refreshOrStale.
        SingleFlight.join(names.refreshes(), key,
            () -> refreshOrStale(route, key, names, known.get(), refresh, TagRevalidation.BACKGROUND));
        return byDigest(route, known.get().digest());
      }
      return SingleFlight.join(names.refreshes(), key,
              () -> refreshOrStale(route, key, names, known.orElse(null), refresh, TagRevalidation.BLOCKING))
          .thenCompose(mapping -> byDigest(route, mapping.digest()))
          .thenApply(served -> new Served(served.manifest(), false));
    });
  }

  /**
   * Whether a stale mapping may be served while it is revalidated: in background mode, unless it
   * is more than {@code maxStale} past its TTL, or the upstream last said the name was gone.
   */
  private boolean mayServeWhileRevalidating(TagKey key, TagMapping known, MutableNames names, Upstream upstream,
      TagRevalidation requested) {
    return requested == TagRevalidation.BACKGROUND
        && known.isFresh(clock.instant(), upstream.tagTtl().plus(upstream.maxStale()))
        && names.goneUpstream().getIfPresent(key) == null;
  }

  private CompletableFuture<TagMapping> refreshOrStale(Route route, TagKey key, MutableNames names, TagMapping known,
      Refresh refresh, TagRevalidation mode) {
    TagMapping latest = names.mappings().get(key);
    if (latest != null && isFresh(latest, route.upstream())) {
      // Another request finished refreshing while this one read the stale mapping.
      return CompletableFuture.completedFuture(latest);
    }
    return refresh.apply(known, mode).exceptionallyCompose(failure -> {
      RegistryException error = UpstreamErrors.forFailure(route.upstream().host(), failure);
      if (known == null) {
        return CompletableFuture.failedFuture(error);
      }
      // A 404 is the upstream's answer, not a failure: the tag is gone, and so it is for clients,
      // who wait for the upstream's word on it from now on, until it is found again.
      if (error.status() == 404) {
        names.goneUpstream().put(key, Boolean.TRUE);
        return CompletableFuture.failedFuture(error);
      }
      log.warn("serving stale {}{} -> {}: {}", names.label(), key, known.digest(), error.getMessage());
      names.upstreamDown().put(key, Boolean.TRUE);
      return CompletableFuture.completedFuture(known);
    });
  }

  private CompletableFuture<Optional<TagMapping>> knownMapping(TagKey key, MutableNames names,
      Supplier<Optional<TagMapping>> stored) {
    TagMapping remembered = names.mappings().get(key);
    if (remembered != null) {
      return CompletableFuture.completedFuture(Optional.of(remembered));
    }
    return CompletableFuture.supplyAsync(() -> {
      Optional<TagMapping> found = stored.get();
      found.ifPresent(names.mappings()::put);
      return found;
    }, storeExecutor);
  }

  /**
   * Asks the upstream whether the tag still points at {@code known}: one HEAD, and a GET only if
   * not. Its outcome is told to the observer before its future completes.
   */
  private CompletableFuture<TagMapping> revalidate(Route route, TagKey key, TagMapping known, TagRevalidation mode) {
    String host = route.upstream().host();
    return route.upstream().client().headManifest(route.repository(), key.tag()).thenCompose(head ->
        head.digest().filter(known.digest()::equals).isPresent()
            ? CompletableFuture.supplyAsync(() -> {
              TagMapping confirmed = new TagMapping(key, known.digest(), clock.instant());
              Manifest manifest = manifests.getIfPresent(known.digest());
              shared.share(confirmed, manifest == null ? null : manifest.mediaType());
              return cache.contains(known.digest()) ? rememberTag(confirmed) : rememberInMemory(tags, confirmed);
            }, storeExecutor)
            : fetchTag(route, key))
        .whenComplete((mapping, failure) -> revalidations.revalidated(host, mode, failure == null
            ? mapping.digest().equals(known.digest()) ? Outcome.UNCHANGED : Outcome.MOVED
            : UpstreamErrors.forFailure(host, failure).status() == 404 ? Outcome.GONE : Outcome.FAILED));
  }

  /**
   * The API's list when the upstream has the API; else its fallback tag's index; else no referrers.
   *
   * @param key the list's name in memory
   */
  private CompletableFuture<TagMapping> fetchReferrers(Route route, ReferrersKey stored, TagKey key) {
    RegistryClient client = route.upstream().client();
    return client.getReferrers(route.repository(), stored.subject())
        .thenCompose(fromApi -> fromApi.isPresent()
            ? CompletableFuture.completedFuture(fromApi.get())
            : client.getManifest(route.repository(), key.tag())
                .thenApply(fallback -> ReferrersIndex.parse(fallback.bytes()))
                .exceptionallyCompose(failure -> UpstreamErrors.forFailure(client.host(), failure).status() == 404
                    ? CompletableFuture.completedFuture(ReferrersIndex.EMPTY)
                    : CompletableFuture.failedFuture(failure)))
        .thenApplyAsync(index -> {
          // A list Cistern composed, not an upstream manifest: stored, but linked to no repository.
          Manifest document = index.toManifest();
          boolean kept = cache.contains(document.digest()) || storeIfPossible(() -> cache.storeManifest(document));
          // Held in memory even when it cannot be stored: no upstream has it under its digest.
          manifests.put(document.digest(), document);
          TagMapping mapping = new TagMapping(key, document.digest(), clock.instant());
          if (kept) {
            storeIfPossible(() -> storedReferrers.put(new ReferrersList(stored, document.digest(), mapping.resolvedAt())));
          }
          return rememberInMemory(referrers, mapping);
        }, storeExecutor);
  }

  private CompletableFuture<TagMapping> fetchTag(Route route, TagKey key) {
    return route.upstream().client().getManifest(route.repository(), key.tag()).thenApplyAsync(manifest -> {
      TagMapping mapping = new TagMapping(key, manifest.digest(), clock.instant());
      shared.share(manifest);
      shared.share(mapping, manifest.mediaType());
      // A stored tag must never point at nothing: for a manifest the disk could not take, only memory knows it.
      return store(route, manifest) ? rememberTag(mapping) : rememberInMemory(tags, mapping);
    }, storeExecutor);
  }

  /**
   * Stores a fetched manifest and remembers it in memory; false when the disk could not take it.
   * Such a manifest is served all the same, but not remembered: held only in memory it would never
   * reach the disk, and a pin, an export or an offline start would miss it.
   */
  private boolean store(Route route, Manifest manifest) {
    boolean stored = storeIfPossible(() -> {
      if (!cache.contains(manifest.digest())) {
        cache.storeManifest(manifest);
      }
      storedTags.link(route.upstream().host(), route.repository(), manifest.digest());
    });
    if (stored) {
      manifests.put(manifest.digest(), manifest);
    }
    return stored;
  }

  private TagMapping rememberTag(TagMapping mapping) {
    storeIfPossible(() -> storedTags.put(mapping));
    return rememberInMemory(tags, mapping);
  }

  private static TagMapping rememberInMemory(MutableNames names, TagMapping mapping) {
    names.mappings().put(mapping);
    names.upstreamDown().invalidate(mapping.key());
    names.goneUpstream().invalidate(mapping.key());
    return mapping;
  }

  /** Runs a write of what a pull learned; false if the cache's disk could not take it (the cache logs why). */
  private static boolean storeIfPossible(Runnable write) {
    try {
      write.run();
      return true;
    } catch (RuntimeException e) {
      if (LocalStorageException.in(e).isEmpty()) {
        throw e;
      }
      return false;
    }
  }

  private CompletableFuture<Served> negotiate(Route route, Served served, AcceptHeader accept) {
    Manifest manifest = served.manifest();
    if (accept.accepts(manifest.mediaType())) {
      return CompletableFuture.completedFuture(served);
    }
    if (manifest.isIndex()) {
      Optional<Descriptor> child = manifest.parse().childFor(Platform.LINUX_AMD64);
      if (child.isPresent() && accept.accepts(child.get().mediaType())) {
        return byDigest(route, child.get().parsedDigest())
            .thenApply(platform -> new Served(platform.manifest(), served.fromCache() && platform.fromCache()));
      }
    }
    return CompletableFuture.failedFuture(new RegistryException(ErrorCode.MANIFEST_UNKNOWN,
        "the manifest is " + manifest.mediaType() + ", which the request's Accept header does not include"));
  }

  private boolean isFresh(TagMapping mapping, Upstream upstream) {
    return mapping.isFresh(clock.instant(), upstream.tagTtl());
  }

  /** Keeps memory in line with the rows eviction deleted: a manifest's tags and referrers lists go with it. */
  private void forget(List<Digest> evicted) {
    manifests.invalidateAll(evicted);
    evicted.forEach(tags.mappings()::forget);
    evicted.forEach(referrers.mappings()::forget);
  }
}
