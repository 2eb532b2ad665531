package io.cistern.ops;

import io.cistern.cache.BlobCache;
import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.ImageCatalog;
import io.cistern.cache.Ingest;
import io.cistern.cache.TagKey;
import io.cistern.cache.TagMapping;
import io.cistern.cache.Tags;
import io.cistern.oci.Descriptor;
import io.cistern.oci.Digest;
import io.cistern.oci.Json;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import io.cistern.oci.Tag;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.UpstreamErrors;
import io.cistern.upstream.UpstreamRouter;
import java.io.BufferedInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;

/**
 * Loads a bundle ({@link Bundle}) into the cache.
 *
 * <p>Every blob goes through the cache's own publication path, as a download does: room is
 * reserved, the bytes are written to a temp file and hashed, the digest and size are checked, the
 * file is synced and renamed into place. A blob already stored is skipped. Manifests are held
 * back until the end and stored, children first, only once everything they refer to is stored;
 * tags come last. So an import that stops half-way (a truncated bundle, a full disk, a kill)
 * leaves whole blobs and nothing half-done: no temp file, no manifest without its blobs, no tag
 * without its manifest, and running it again carries on where it stopped.
 */
final class BundleImporter {

  private static final int COPY_BUFFER = 1 << 20;
  private static final int MAX_BUNDLE_INDEX_BYTES = 64 << 20;

  private final BlobCache cache;
  private final Tags tags;
  private final ImageCatalog catalog;
  private final UpstreamRouter router;
  private final Clock clock;

  BundleImporter(BlobCache cache, Tags tags, ImageCatalog catalog, UpstreamRouter router, Clock clock) {
    this.cache = cache;
    this.tags = tags;
    this.catalog = catalog;
    this.router = router;
    this.clock = clock;
  }

  Outcome importBundle(Path file, boolean pin, Progress progress) throws IOException {
    progress.phase("importing");
    Bundle bundle = null;
    Map<Digest, Bundle.Content> manifests = new HashMap<>();
    Map<Digest, byte[]> heldBack = new HashMap<>();
    int imported = 0;
    long importedBytes = 0;
    int skipped = 0;
    BundleDirectory.requireRegularFile(file);
    // Opened without following a link, in case one replaced the file since the check.
    try (InputStream in = new BufferedInputStream(Files.newInputStream(file, StandardOpenOption.READ,
        LinkOption.NOFOLLOW_LINKS), COPY_BUFFER)) {
      TarReader tar = new TarReader(in);
      for (TarReader.Entry entry = tar.next(); entry != null; entry = tar.next()) {
        if (entry.name().equals(Bundle.FILE)) {
          bundle = readBundle(entry);
          progress.expect(bundle.blobs(), bundle.bytes());
          for (Bundle.Content content : bundle.manifests()) {
            manifests.put(parseDigest(content.digest()), content);
          }
          continue;
        }
        if (!entry.name().startsWith("blobs/")) {
          continue;
        }
        if (bundle == null) {
          throw new OperationException(400, file + " is not a Cistern bundle: " + Bundle.FILE + " must come before its blobs");
        }
        Digest digest = digestOf(entry.name());
        if (cache.contains(digest)) {
          skipped++;
          progress.done(entry.size());
        } else if (manifests.containsKey(digest)) {
          heldBack.put(digest, readManifest(entry, digest));
          progress.done(entry.size());
        } else {
          importBlob(digest, entry, progress);
          imported++;
          importedBytes += entry.size();
        }
      }
    } catch (NoSuchFileException e) {
      throw new OperationException(404, "no such bundle: " + file);
    }
    if (bundle == null) {
      throw new OperationException(400, file + " is not a Cistern bundle: it has no " + Bundle.FILE);
    }
    progress.phase("storing manifests");
    Set<Digest> stored = new HashSet<>();
    for (Bundle.Image image : bundle.images()) {
      store(parseDigest(image.digest()), manifests, heldBack, stored, new LinkedHashSet<>());
    }
    for (Digest manifest : heldBack.keySet()) {
      store(manifest, manifests, heldBack, stored, new LinkedHashSet<>());
    }
    imported += stored.size();
    importedBytes += stored.stream().mapToLong(digest -> heldBack.get(digest).length).sum();
    progress.phase("tagging");
    List<String> warnings = new ArrayList<>();
    Set<String> unknownUpstreams = new LinkedHashSet<>();
    List<String> images = new ArrayList<>();
    for (Bundle.Image image : bundle.images()) {
      Digest digest = parseDigest(image.digest());
      RepositoryName repository = RepositoryName.of(image.repository());
      if (image.tag() != null) {
        tags.replace(new TagMapping(new TagKey(image.upstream(), repository, new Tag(image.tag())), digest, clock.instant()));
      } else {
        tags.link(image.upstream(), repository, digest);
      }
      if (pin) {
        catalog.pinImage(digest);
      }
      if (router.upstream(image.upstream()).isEmpty()) {
        unknownUpstreams.add(image.upstream());
      }
      images.add(image.toString());
    }
    for (String upstream : unknownUpstreams) {
      warnings.add("upstream " + upstream + " is not configured here: add it to upstreams (offline: true is enough) "
          + "to serve its images");
    }
    progress.phase("done");
    return new Outcome(images, imported, importedBytes, skipped, warnings);
  }

  private static Bundle readBundle(TarReader.Entry entry) throws IOException {
    if (entry.size() > MAX_BUNDLE_INDEX_BYTES) {
      throw new OperationException(400, Bundle.FILE + " is " + entry.size() + " bytes: not a Cistern bundle");
    }
    Bundle bundle;
    try {
      bundle = Json.read(entry.content().readAllBytes(), Bundle.class);
    } catch (com.fasterxml.jackson.core.JacksonException e) {
      throw new OperationException(400, Bundle.FILE + " cannot be read: " + e.getOriginalMessage());
    }
    if (!Bundle.FORMAT.equals(bundle.format())) {
      throw new OperationException(400, "unsupported bundle format '" + bundle.format() + "' (this Cistern reads "
          + Bundle.FORMAT + ")");
    }
    return bundle;
  }

  /** {@code blobs/<algorithm>/<hex>}, checked as a digest is: no name can reach outside the store. */
  private static Digest digestOf(String name) {
    String[] parts = name.split("/");
    if (parts.length != 3) {
      throw new OperationException(400, "unexpected bundle entry " + name);
    }
    return parseDigest(parts[1] + ":" + parts[2]);
  }

  private static Digest parseDigest(String text) {
    try {
      return Digest.parse(text);
    } catch (RegistryException e) {
      throw new OperationException(400, "bad digest in the bundle: " + text);
    }
  }

  private static byte[] readManifest(TarReader.Entry entry, Digest digest) throws IOException {
    if (entry.size() > Manifest.MAX_BYTES) {
      throw new OperationException(400, "manifest " + digest + " in the bundle is " + entry.size() + " bytes");
    }
    byte[] bytes = entry.content().readAllBytes();
    if (!digest.matches(bytes)) {
      throw new OperationException(422, "manifest " + digest + " in the bundle does not match its digest: damaged bundle");
    }
    return bytes;
  }

  /** Imports one blob through the cache's publication path; on any failure nothing of it stays. */
  private void importBlob(Digest digest, TarReader.Entry entry, Progress progress) throws IOException {
    Ingest ingest;
    try {
      ingest = cache.ingest(digest, entry.size()).join();
    } catch (CompletionException e) {
      Throwable cause = UpstreamErrors.unwrap(e);
      if (cause instanceof IOException io) {
        throw io;
      }
      throw new OperationException(507, "no room in the cache for " + digest + " (" + entry.size() + " bytes): "
          + cause.getMessage());
    }
    long written = 0;
    try {
      byte[] buffer = new byte[COPY_BUFFER];
      int read;
      while ((read = entry.content().read(buffer)) > 0) {
        ingest.append(ByteBuffer.wrap(buffer, 0, read));
        written += read;
        progress.advance(read);
      }
    } catch (IOException | RuntimeException e) {
      ingest.abandon(e);
      progress.advance(-written);
      throw e;
    }
    CompletableFuture<Path> stored;
    try {
      stored = ingest.publish();
    } catch (ContentMismatchException e) {
      throw new OperationException(422, entry.name() + " in the bundle does not match its digest: damaged bundle ("
          + e.getMessage() + ")");
    }
    // Stored before the next entry: a manifest is stored only after what it refers to.
    try {
      stored.join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw e;
    }
    progress.itemDone();
  }

  /**
   * Stores a held-back manifest after what it refers to: an image manifest only when all its blobs
   * are stored, an index after those of its platforms the bundle carries.
   */
  private void store(Digest digest, Map<Digest, Bundle.Content> manifests, Map<Digest, byte[]> heldBack,
      Set<Digest> stored, Set<Digest> visiting) {
    if (stored.contains(digest) || cache.contains(digest) && !heldBack.containsKey(digest)) {
      return;
    }
    Bundle.Content content = manifests.get(digest);
    byte[] bytes = heldBack.get(digest);
    if (content == null || bytes == null) {
      throw new OperationException(400, "the bundle lacks manifest " + digest);
    }
    if (!visiting.add(digest)) {
      throw new OperationException(400, "manifest " + digest + " refers to itself");
    }
    ManifestDocument document = ManifestDocument.parse(bytes);
    for (Descriptor child : document.manifests()) {
      Digest childDigest = parseDigest(child.digest());
      if (manifests.containsKey(childDigest)) {
        store(childDigest, manifests, heldBack, stored, visiting);
      }
    }
    for (Descriptor blob : document.blobs()) {
      if (!cache.contains(parseDigest(blob.digest()))) {
        throw new OperationException(400, "the bundle lacks blob " + blob.digest() + " of manifest " + digest);
      }
    }
    cache.storeManifest(new Manifest(digest, content.mediaType(), bytes));
    stored.add(digest);
  }
}
