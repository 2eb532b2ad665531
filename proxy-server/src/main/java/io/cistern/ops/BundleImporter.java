package io.cistern.ops;

import io.cistern.cache.BlobCache;
import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.ImageCatalog;
import io.cistern.cache.Ingest;
import io.cistern.cache.PinName;
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
import io.cistern.upstream.RepositoryRules;
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
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
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
 *
 * <p>A bundle is untrusted input (it was carried in from elsewhere), read as a stream, and its tar
 * ({@link BundleTarReader}, over Commons Compress) accepts what a bundle written by Cistern or
 * unpacked and packed again with a tar tool can hold, and refuses the rest with a message naming
 * the entry:
 * <ul>
 *   <li><b>Accepted:</b> ustar, PAX and GNU headers: PAX records (read by their length prefix) that
 *       give a size (a file of 8 GiB or more) or a name, GNU long names, global PAX headers, base-256
 *       sizes; directory entries without data are passed over.</li>
 *   <li><b>Refused, as nothing in a bundle is one:</b> symbolic and hard links, devices, FIFOs,
 *       sparse files (old GNU, PAX 0.x and 1.0) and any other entry type; absolute names and names
 *       with {@code ..}; and any entry but {@code oci-layout}, {@value Bundle#FILE},
 *       {@code index.json} and {@code blobs/<algorithm>/<hex>}. Nothing is ever written under an
 *       entry's name (a blob is stored by its digest), so these are refused as a sign of a bundle
 *       that is not one, not because they could reach outside the cache.</li>
 *   <li><b>Refused, as ambiguous:</b> an entry that appears twice (which copy counts depends on the
 *       reader: tar tools keep the last, so two {@code index.json} could show other tools another
 *       layout than the one imported), and data after the end-of-archive marker (a second archive
 *       appended, which tar tools ignore).</li>
 *   <li><b>Refused, to keep memory bounded:</b> extended headers over 64 KiB, more than 8 of them
 *       for one entry, a {@value Bundle#FILE} over 64 MiB, a manifest over
 *       {@link Manifest#MAX_BYTES}. A blob is streamed into the cache, never held in memory; each
 *       entry's name is remembered, to find a repeated one.</li>
 *   <li><b>Refused, as damaged:</b> a header with a bad checksum, a blob whose bytes do not match
 *       its name's digest; a file that ends early (inside a header or an entry, or without the
 *       end-of-archive marker) stops the import as a truncated copy, which a rerun of a whole copy
 *       carries on.</li>
 * </ul>
 * Each of these is found while the tar is read, before manifests and tags are stored, so it
 * leaves what any stop leaves: whole blobs, and no manifest or tag of the bundle.
 *
 * <p>An image the repository rules of its upstream refuse ({@link RepositoryRules}) is not
 * imported: not its tag, nor a manifest or blob only it needs; the outcome's warnings name it and
 * the rule. Blobs come before the manifests that list them, so when a bundle holds both refused
 * and allowed images, a first read collects its manifests (skipping the blobs' bytes) to learn
 * which blobs the allowed ones need.
 */
final class BundleImporter {

  private static final int COPY_BUFFER = 1 << 20;
  private static final int MAX_BUNDLE_INDEX_BYTES = 64 << 20;
  /** The OCI layout's own files, for other tools: Cistern reads its table of contents instead. */
  private static final Set<String> LAYOUT_FILES = Set.of("oci-layout", "index.json");

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

  /**
   * What of a bundle its upstreams' repository rules let in.
   *
   * @param refused the images refused, each with why
   * @param wanted the manifests and blobs the other images reach; null for everything in the bundle
   */
  private record Admission(Map<Bundle.Image, String> refused, Set<Digest> wanted) {
    static final Admission EVERYTHING = new Admission(Map.of(), null);

    boolean admits(Digest digest) {
      return wanted == null || wanted.contains(digest);
    }
  }

  Outcome importBundle(Path file, boolean pin, Progress progress) throws IOException {
    BundleDirectory.requireRegularFile(file);
    Admission admission;
    try {
      admission = admission(file, progress);
    } catch (NoSuchFileException e) {
      throw new OperationException(404, "no such bundle: " + file);
    }
    progress.phase("importing");
    Bundle bundle = null;
    Map<Digest, Bundle.Content> manifests = new HashMap<>();
    Map<Digest, byte[]> heldBack = new HashMap<>();
    int imported = 0;
    long importedBytes = 0;
    int skipped = 0;
    Set<String> seen = new HashSet<>();
    try (InputStream in = open(file)) {
      BundleTarReader tar = new BundleTarReader(in);
      for (BundleTarReader.Entry entry = tar.next(); entry != null; entry = tar.next()) {
        if (!seen.add(entry.name())) {
          throw new OperationException(400, "the bundle holds " + BundleTarReader.shown(entry.name())
              + " twice: it is damaged, or was not written by Cistern");
        }
        if (entry.name().equals(Bundle.FILE)) {
          bundle = readBundle(entry);
          progress.expect(bundle.blobs(), bundle.bytes());
          for (Bundle.Content content : bundle.manifests()) {
            manifests.put(parseDigest(content.digest()), content);
          }
          continue;
        }
        if (LAYOUT_FILES.contains(entry.name())) {
          continue;
        }
        if (!entry.name().startsWith("blobs/")) {
          throw unexpected(entry.name());
        }
        if (bundle == null) {
          throw new OperationException(400, file + " is not a Cistern bundle: " + Bundle.FILE + " must come before its blobs");
        }
        Digest digest = digestOf(entry.name());
        if (!admission.admits(digest)) {
          progress.done(entry.size());
        } else if (cache.contains(digest)) {
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
    List<Bundle.Image> admitted = bundle.images().stream().filter(image -> !admission.refused().containsKey(image)).toList();
    Set<Digest> stored = new HashSet<>();
    for (Bundle.Image image : admitted) {
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
    for (Bundle.Image image : admitted) {
      Digest digest = parseDigest(image.digest());
      RepositoryName repository = RepositoryName.of(image.repository());
      if (image.tag() != null) {
        tags.replace(new TagMapping(new TagKey(image.upstream(), repository, new Tag(image.tag())), digest, clock.instant()));
      } else {
        tags.link(image.upstream(), repository, digest);
      }
      if (pin) {
        catalog.pinImage(new PinName(image.upstream(), repository, image.tag() != null ? new Tag(image.tag()) : digest),
            digest);
      }
      if (router.upstream(image.upstream()).isEmpty()) {
        unknownUpstreams.add(image.upstream());
      }
      images.add(image.toString());
    }
    admission.refused().forEach((image, why) -> warnings.add(image + " was not imported: its repository " + why
        + " of upstream " + image.upstream()));
    for (String upstream : unknownUpstreams) {
      warnings.add("upstream " + upstream + " is not configured here: add it to upstreams (offline: true is enough) "
          + "to serve its images");
    }
    progress.phase("done");
    return new Outcome(images, imported, importedBytes, skipped, warnings);
  }

  /** Opened without following a link, in case one replaced the file since it was checked. */
  private static InputStream open(Path file) throws IOException {
    return new BufferedInputStream(Files.newInputStream(file, StandardOpenOption.READ, LinkOption.NOFOLLOW_LINKS),
        COPY_BUFFER);
  }

  /**
   * Reads the bundle's table of contents and asks each image's upstream whether its repository is
   * served; when some images are refused and some are not, reads on for the manifests to find what
   * the admitted ones reach. A bundle that is not well formed is let through, for the import to
   * report what is wrong with it.
   */
  private Admission admission(Path file, Progress progress) throws IOException {
    try (InputStream in = open(file)) {
      BundleTarReader tar = new BundleTarReader(in);
      BundleTarReader.Entry entry = tar.next();
      while (entry != null && !entry.name().equals(Bundle.FILE) && !entry.name().startsWith("blobs/")) {
        entry = tar.next();
      }
      if (entry == null || !entry.name().equals(Bundle.FILE)) {
        return Admission.EVERYTHING;
      }
      Bundle bundle = readBundle(entry);
      Map<Bundle.Image, String> refused = new LinkedHashMap<>();
      for (Bundle.Image image : bundle.images()) {
        Optional<String> refusal = router.upstream(image.upstream())
            .flatMap(upstream -> upstream.repositories().refusal(RepositoryName.of(image.repository())));
        refusal.ifPresent(why -> refused.put(image, why));
      }
      if (refused.isEmpty()) {
        return Admission.EVERYTHING;
      }
      List<Digest> admitted = bundle.images().stream().filter(image -> !refused.containsKey(image))
          .map(image -> parseDigest(image.digest())).toList();
      if (admitted.isEmpty()) {
        return new Admission(refused, Set.of());
      }
      Set<Digest> manifestDigests = new HashSet<>();
      for (Bundle.Content content : bundle.manifests()) {
        manifestDigests.add(parseDigest(content.digest()));
      }
      progress.phase("finding what the images the repository rules allow need");
      Map<Digest, ManifestDocument> documents = new HashMap<>();
      for (entry = tar.next(); entry != null; entry = tar.next()) {
        if (entry.name().startsWith("blobs/")) {
          Digest digest = digestOf(entry.name());
          if (manifestDigests.contains(digest)) {
            documents.put(digest, ManifestDocument.parse(readManifest(entry, digest)));
          }
        }
      }
      return new Admission(refused, reachable(admitted, documents));
    }
  }

  /** The manifests and blobs {@code roots} reach through the bundle's manifests. */
  private static Set<Digest> reachable(List<Digest> roots, Map<Digest, ManifestDocument> documents) {
    Set<Digest> reached = new HashSet<>();
    Deque<Digest> toVisit = new ArrayDeque<>(roots);
    while (!toVisit.isEmpty()) {
      Digest digest = toVisit.pop();
      ManifestDocument document = documents.get(digest);
      if (!reached.add(digest) || document == null) {
        continue;
      }
      for (Descriptor child : document.manifests()) {
        toVisit.push(parseDigest(child.digest()));
      }
      for (Descriptor blob : document.blobs()) {
        reached.add(parseDigest(blob.digest()));
      }
    }
    return reached;
  }

  private static Bundle readBundle(BundleTarReader.Entry entry) throws IOException {
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
      throw unexpected(name);
    }
    return parseDigest(parts[1] + ":" + parts[2]);
  }

  private static OperationException unexpected(String name) {
    return new OperationException(400, "unexpected entry " + BundleTarReader.shown(name) + " in the bundle: a bundle"
        + " holds oci-layout, " + Bundle.FILE + ", index.json and blobs/<algorithm>/<hex>, nothing else");
  }

  private static Digest parseDigest(String text) {
    try {
      return Digest.parse(text);
    } catch (RegistryException e) {
      throw new OperationException(400, "bad digest in the bundle: " + text);
    }
  }

  private static byte[] readManifest(BundleTarReader.Entry entry, Digest digest) throws IOException {
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
  private void importBlob(Digest digest, BundleTarReader.Entry entry, Progress progress) throws IOException {
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
