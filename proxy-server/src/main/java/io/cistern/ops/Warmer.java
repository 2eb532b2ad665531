package io.cistern.ops;


import io.cistern.oci.AcceptHeader;
import io.cistern.oci.Descriptor;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.Platform;
import io.cistern.oci.Reference;
import io.cistern.oci.RegistryException;
import io.cistern.proxy.BlobService;
import io.cistern.proxy.BlobSource;
import io.cistern.proxy.ManifestService;
import io.cistern.upstream.UpstreamErrors;
import io.cistern.upstream.UpstreamRouter;
import io.cistern.upstream.UpstreamRouter.Route;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

/**
 * Pulls images into the cache through the pull-through services themselves, exactly as a client
 * pull would (single flight, reservations, atomic publication): the manifest, the manifests of the
 * wanted platforms, then every blob, a few at a time.
 */
final class Warmer {

  /** Blobs fetched at once; the upstream client's own limit still applies on top. */
  private static final int PARALLEL_BLOBS = 4;

  private record Wanted(Route route, Digest digest, long size) {}

  private final UpstreamRouter router;
  private final ManifestService manifests;
  private final BlobService blobs;

  Warmer(UpstreamRouter router, ManifestService manifests, BlobService blobs) {
    this.router = router;
    this.manifests = manifests;
    this.blobs = blobs;
  }

  /**
   * @param platforms the platforms of an index to pull; empty for all of them
   * @throws OperationException naming every image or blob that could not be pulled, after the
   *     others were
   */
  Outcome warm(List<String> references, List<Platform> platforms, Progress progress) throws InterruptedException {
    progress.phase("resolving");
    List<String> failures = new ArrayList<>();
    List<String> images = new ArrayList<>();
    Map<Digest, Wanted> wanted = new LinkedHashMap<>();
    for (String text : references) {
      try {
        ImageReference reference = ImageReference.parse(text);
        Route route = CacheOperations.route(router, reference);
        Manifest top = manifest(route, reference.reference());
        for (Manifest image : platformsOf(top, route, platforms, text)) {
          for (Descriptor blob : image.parse().blobs()) {
            wanted.putIfAbsent(blob.parsedDigest(), new Wanted(route, blob.parsedDigest(), blob.size()));
          }
        }
        images.add(CacheOperations.describe(route, reference.reference(), top.digest()));
      } catch (OperationException | RegistryException e) {
        failures.add(text + ": " + e.getMessage());
      }
    }
    progress.expect(wanted.size(), wanted.values().stream().mapToLong(Wanted::size).sum());
    progress.phase("downloading");
    AtomicInteger fetched = new AtomicInteger();
    AtomicLong fetchedBytes = new AtomicLong();
    AtomicInteger present = new AtomicInteger();
    // Filled from download callbacks, on the threads that finish downloads.
    List<String> blobFailures = Collections.synchronizedList(new ArrayList<>());
    Semaphore slots = new Semaphore(PARALLEL_BLOBS);
    List<CompletableFuture<Void>> all = new ArrayList<>();
    for (Wanted blob : wanted.values()) {
      slots.acquire();
      CompletableFuture<Void> one = fetch(blob, progress, fetched, fetchedBytes, present)
          .exceptionally(failure -> {
            blobFailures.add(blob.digest() + ": " + UpstreamErrors.unwrap(failure).getMessage());
            return null;
          })
          .whenComplete((ignored, alsoIgnored) -> slots.release());
      all.add(one);
    }
    CompletableFuture.allOf(all.toArray(CompletableFuture[]::new)).join();
    failures.addAll(blobFailures);
    if (!failures.isEmpty()) {
      throw new OperationException(502, "could not warm everything (" + images.size() + " images resolved, "
          + fetched.get() + " blobs fetched, " + present.get() + " already cached):\n  "
          + failures.stream().collect(Collectors.joining("\n  ")));
    }
    progress.phase("done");
    return new Outcome(images, fetched.get(), fetchedBytes.get(), present.get(), List.of());
  }

  private Manifest manifest(Route route, Reference reference) {
    try {
      return manifests.getRevalidated(route, reference, AcceptHeader.ANYTHING).join().manifest();
    } catch (RuntimeException e) {
      Throwable cause = UpstreamErrors.unwrap(e);
      throw cause instanceof RegistryException registry ? registry : UpstreamErrors.forFailure(route.upstream().host(), cause);
    }
  }

  /** An image is itself; an index is the manifests of its wanted platforms (all when none are named). */
  private List<Manifest> platformsOf(Manifest top, Route route, List<Platform> platforms, String text) {
    if (!top.isIndex()) {
      return List.of(top);
    }
    List<Manifest> chosen = new ArrayList<>();
    for (Descriptor child : top.parse().manifests()) {
      boolean wantedPlatform = platforms.isEmpty()
          || platforms.stream().anyMatch(platform -> child.platform() != null && child.platform().satisfies(platform));
      if (wantedPlatform) {
        chosen.addAll(platformsOf(manifest(route, child.parsedDigest()), route, platforms, text));
      }
    }
    if (chosen.isEmpty()) {
      throw new OperationException(404, "no platform of " + text + " matches "
          + platforms.stream().map(Platform::toString).collect(Collectors.joining(",")));
    }
    return chosen;
  }

  private CompletableFuture<Void> fetch(Wanted blob, Progress progress, AtomicInteger fetched, AtomicLong fetchedBytes,
      AtomicInteger present) {
    return blobs.open(blob.route(), blob.digest()).thenCompose(source -> {
      if (source instanceof BlobSource.Stored stored) {
        stored.content().close();
        present.incrementAndGet();
        progress.done(stored.size());
        return CompletableFuture.completedFuture(null);
      }
      var partial = ((BlobSource.Downloading) source).blob();
      progress.follow(partial);
      return partial.finished().handle((path, failure) -> {
        if (failure != null) {
          progress.unfollow(partial);
          throw new CompletionException(failure);
        }
        progress.downloaded(partial, partial.written());
        fetched.incrementAndGet();
        fetchedBytes.addAndGet(partial.written());
        return null;
      });
    });
  }
}
