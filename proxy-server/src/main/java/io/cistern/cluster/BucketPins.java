package io.cistern.cluster;

import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.BlobContent;
import io.cistern.cache.bucket.BucketDocuments;
import io.cistern.cache.bucket.S3Bucket;
import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Retention in the bucket: what {@code pin}, {@code unpin} and {@code purge} do there, so that
 * they hold for the whole cluster rather than one member's disk.
 *
 * <ul>
 *   <li>A pin is a document {@code pins/<upstream>/<repository>/<tag|digest>} listing the image's
 *       manifests and blobs, and a copy of each of them under {@code pinned/} (a server-side copy
 *       from {@code blobs/}, or an upload of the member's verified local file when
 *       {@code blobs/} lacks it). The lifecycle rule the README prescribes covers {@code blobs/}
 *       only, so a pinned image outlives its expiry, and every member's miss finds it there.
 *   <li>An unpin removes the document, then the pinned copies no remaining pin document lists,
 *       then reads the documents again and restores any of those copies that one lists now (a pin
 *       of another image sharing it, made meanwhile on another member), as a pin makes a copy.
 *       When neither {@code blobs/} nor the member holds it, that copy is gone until the image
 *       listing it is pinned again (logged).
 *   <li>A purge removes the image's tag documents, so no member resolves it from the bucket; it is
 *       refused while any pin document lists the image. Blobs are content-addressed and may be
 *       shared with other images: a purge leaves them to the lifecycle rule.
 * </ul>
 * The document is written before the copies and removed before they are: an unpin's second
 * reading of the documents finds every pin whose copies its deletes may have undone. Every call
 * reaches the bucket and blocks no thread; callers (operators' commands) wait for them.
 */
public final class BucketPins {

  private static final Logger log = LoggerFactory.getLogger(BucketPins.class);
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String PINS = "pins";

  /** One object of a pinned image: its digest, size and media type, as the local catalog has it. */
  public record PinnedObject(Digest digest, long size, String mediaType) {}

  /** What a pin did in the bucket. */
  public record PinOutcome(int copied, int uploaded, int missing) {}

  /**
   * A pin document an unpin removed.
   *
   * @param manifest the image it pinned; empty when the document names none that can be read
   */
  public record Unpinned(Optional<Digest> manifest) {}

  /** A pin document as stored: plain strings, readable by any tool. */
  record PinDocument(String image, String manifest, List<String> digests) {}

  private final SharedBucket shared;

  public BucketPins(SharedBucket shared) {
    this.shared = shared;
  }

  /**
   * Pins an image in the bucket: its document, then a copy of each object under {@code pinned/}.
   *
   * @param name {@code <upstream>/<repository>/<tag|digest>}, the document's name under {@code pins/}
   * @param local opens the member's verified copy of an object that {@code blobs/} lacks (empty
   *     when the member does not hold it either: it counts as missing)
   */
  public CompletableFuture<PinOutcome> pin(String name, String image, Digest manifest, List<PinnedObject> objects,
      Function<Digest, Optional<? extends BlobContent>> local) {
    byte[] json = json(new PinDocument(image, manifest.toString(),
        objects.stream().map(object -> object.digest().toString()).toList()));
    BucketDocuments documents = shared.bucket().documents();
    String document = PINS + "/" + name;
    CompletableFuture<?> written = documents.read(document).thenCompose(current -> current.isEmpty()
        ? documents.create(document, json)
        : documents.replace(document, json, current.get().etag()));
    int[] counts = new int[Kept.values().length];
    CompletableFuture<Void> copies = written.thenApply(ignored -> null);
    // One object at a time: a pin is an operator's command, and its copies run inside the store.
    for (PinnedObject object : objects) {
      copies = copies.thenCompose(ignored -> keep(object.digest(), object.mediaType(), local))
          .thenAccept(kept -> counts[kept.ordinal()]++);
    }
    return shared.track(copies.thenApply(done -> new PinOutcome(
        counts[Kept.COPIED.ordinal()], counts[Kept.UPLOADED.ordinal()], counts[Kept.MISSING.ordinal()])));
  }

  /** How one object got its copy under {@code pinned/}, or did not. */
  private enum Kept { COPIED, UPLOADED, MISSING }

  /**
   * Gives {@code digest} its copy under {@code pinned/}: a server-side copy from {@code blobs/},
   * else an upload of the member's verified local copy, else none (missing).
   *
   * @param mediaType the upload's Content-Type when it is a manifest's; anything else (null
   *     included: a layer or config) goes up as {@code application/octet-stream}
   */
  private CompletableFuture<Kept> keep(Digest digest, String mediaType,
      Function<Digest, Optional<? extends BlobContent>> local) {
    S3Bucket bucket = shared.bucket();
    return bucket.pinned().copyFromBlobs(digest).thenCompose(copied -> {
      if (copied) {
        return CompletableFuture.completedFuture(Kept.COPIED);
      }
      Optional<? extends BlobContent> content = local.apply(digest);
      if (content.isEmpty()) {
        return CompletableFuture.completedFuture(Kept.MISSING);
      }
      BlobContent opened = content.get();
      String type = MediaTypes.isManifest(mediaType) ? mediaType : "application/octet-stream";
      return bucket.pinned().put(digest, opened.publisher(), opened.length(), type)
          .whenComplete((outcome, failure) -> opened.close())
          .thenApply(outcome -> Kept.UPLOADED);
    });
  }

  /**
   * Unpins an image in the bucket: removes its document, then the pinned copies of what no other
   * pin document lists, then restores those of them that a pin document written meanwhile lists
   * (a pin of another image that shares them, under way on another member).
   *
   * @param mediaTypes the manifest media type the member records on a digest: the Content-Type of a
   *     manifest restored from its local tier (a digest without one goes up as
   *     {@code application/octet-stream}). By digest, not from what the member resolves the name to
   *     now: a pinned tag may have moved since it was pinned. Asked, as {@code local} is, on the
   *     bucket's threads.
   * @param local opens the member's verified copy of an object to restore that {@code blobs/} lacks
   * @return the document removed; empty when there was no pin document of that name, so nothing
   *     was unpinned
   */
  public CompletableFuture<Optional<Unpinned>> unpin(String name, Function<Digest, Optional<String>> mediaTypes,
      Function<Digest, Optional<? extends BlobContent>> local) {
    BucketDocuments documents = shared.bucket().documents();
    String document = PINS + "/" + name;
    return documents.read(document).thenCompose(current -> {
      if (current.isEmpty()) {
        return CompletableFuture.completedFuture(Optional.<Unpinned>empty());
      }
      Optional<PinDocument> pin = parse(current.get().json());
      Unpinned unpinned = new Unpinned(pin.map(PinDocument::manifest).flatMap(BucketPins::digestOf));
      return documents.delete(document)
          .thenCompose(deleted -> pinDocuments())
          .thenCompose(remaining -> {
            Set<String> stillPinned = digests(remaining);
            List<Digest> unneeded = new ArrayList<>();
            for (String digest : pin.map(PinDocument::digests).orElse(List.of())) {
              if (!stillPinned.contains(digest)) {
                unneeded.add(Digest.parse(digest));
              }
            }
            CompletableFuture<Void> removals = CompletableFuture.completedFuture(null);
            for (Digest digest : unneeded) {
              removals = removals.thenCompose(ignored -> shared.bucket().pinned().delete(digest));
            }
            // A pin writes its document before its copies. One whose document this second listing
            // misses copies after it, so after these deletes: its copies stay. One it finds may
            // have copied before a delete: what it shares is restored here.
            return removals.thenCompose(done -> pinDocuments())
                .thenCompose(now -> restore(unneeded, now, mediaTypes, local))
                .thenApply(done -> Optional.of(unpinned));
          });
    });
  }

  /** Restores the pinned copy of each of {@code removed} that one of {@code pins} lists. */
  private CompletableFuture<Void> restore(List<Digest> removed, List<PinDocument> pins,
      Function<Digest, Optional<String>> mediaTypes, Function<Digest, Optional<? extends BlobContent>> local) {
    Set<String> pinnedNow = digests(pins);
    CompletableFuture<Void> work = CompletableFuture.completedFuture(null);
    for (Digest digest : removed) {
      if (!pinnedNow.contains(digest.toString())) {
        continue;
      }
      work = work.thenCompose(ignored -> keep(digest, mediaTypes.apply(digest).orElse(null), local))
          .thenAccept(kept -> {
            if (kept == Kept.MISSING) {
              log.warn("the pinned copy of {} is gone: neither blobs/ nor this member holds it; pin {} again to"
                  + " restore it", digest, pins.stream().filter(pin -> pin.digests().contains(digest.toString()))
                  .map(PinDocument::image).toList());
            }
          });
    }
    return work;
  }

  /** Whether any pin document lists {@code manifest}: such an image may not be purged. */
  public CompletableFuture<Boolean> pinned(Digest manifest) {
    return pinDocuments().thenApply(pins -> digests(pins).contains(manifest.toString()));
  }

  /** Every pin document that can be read. Pins are few: an operator names each. */
  private CompletableFuture<List<PinDocument>> pinDocuments() {
    BucketDocuments documents = shared.bucket().documents();
    return documents.list(PINS).thenCompose(names -> {
      List<PinDocument> pins = new ArrayList<>();
      CompletableFuture<Void> reads = CompletableFuture.completedFuture(null);
      for (String name : names) {
        reads = reads.thenCompose(ignored -> documents.read(name).thenAccept(stored -> stored
            .flatMap(document -> parse(document.json()))
            .ifPresent(pins::add)));
      }
      return reads.thenApply(done -> pins);
    });
  }

  /** Every digest {@code pins} list. */
  private static Set<String> digests(List<PinDocument> pins) {
    Set<String> digests = new HashSet<>();
    pins.forEach(pin -> digests.addAll(pin.digests()));
    return digests;
  }

  /**
   * Removes the tag documents of {@code <upstream>/<repository>} that name {@code manifest}, or
   * just the one of {@code tag} when it is not null.
   *
   * @return how many were removed
   */
  public CompletableFuture<Integer> purgeTags(String upstream, String repository, String tag, Digest manifest) {
    BucketDocuments documents = shared.bucket().documents();
    String folder = "tags/" + upstream + "/" + repository;
    if (tag != null) {
      String name = folder + "/" + tag;
      return documents.read(name).thenCompose(current -> current.isEmpty()
          ? CompletableFuture.completedFuture(0)
          : documents.delete(name).thenApply(deleted -> 1));
    }
    return documents.list(folder).thenCompose(names -> {
      int[] removed = new int[1];
      CompletableFuture<Void> work = CompletableFuture.completedFuture(null);
      for (String name : names) {
        if (name.indexOf('/', folder.length() + 1) >= 0) {
          continue; // a tag of a repository nested under this one
        }
        work = work.thenCompose(ignored -> documents.read(name).thenCompose(stored -> {
          if (stored.isEmpty() || !manifest.toString().equals(taggedDigest(stored.get().json()))) {
            return CompletableFuture.completedFuture(null);
          }
          removed[0]++;
          return documents.delete(name);
        }));
      }
      return work.thenApply(done -> removed[0]);
    });
  }

  /** The digest a tag document names, or null when it is not one. */
  private static String taggedDigest(byte[] json) {
    try {
      return JSON.readTree(json).path("digest").asText(null);
    } catch (IOException damaged) {
      return null;
    }
  }

  /** A document's manifest, or empty when it is no digest (a document edited by hand). */
  private static Optional<Digest> digestOf(String text) {
    try {
      return Optional.of(Digest.parse(text));
    } catch (RegistryException damaged) {
      return Optional.empty();
    }
  }

  private static Optional<PinDocument> parse(byte[] json) {
    try {
      PinDocument pin = JSON.readValue(json, PinDocument.class);
      return pin.digests() == null ? Optional.empty() : Optional.of(pin);
    } catch (IOException damaged) {
      return Optional.empty();
    }
  }

  private static byte[] json(PinDocument pin) {
    try {
      return JSON.writeValueAsBytes(pin);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
