package io.cistern.ops;

import io.cistern.cache.BlobCache;
import io.cistern.cache.BlobContent;
import io.cistern.oci.Descriptor;
import io.cistern.oci.Digest;
import io.cistern.oci.Json;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;

/**
 * Writes cached images into a bundle ({@link Bundle}): only what is in the cache, never asking an
 * upstream. An image must be whole; of an index, the platforms that are whole go in and the others
 * are named in the outcome's warnings. Every blob is hashed as it is copied, and every manifest
 * as it is read: a damaged one stops the export, naming it, rather than go into a bundle. The file
 * appears only once complete: it is written beside its final name, synced, and linked to that
 * name, which fails rather than replace a file.
 */
final class BundleExporter {

  private static final int COPY_BUFFER = 1 << 20;

  private final BlobCache cache;

  BundleExporter(BlobCache cache) {
    this.cache = cache;
  }

  /** What goes into the bundle, in the order it is written. */
  private static final class Contents {
    final List<Bundle.Image> images = new ArrayList<>();
    final Map<Digest, Long> blobs = new LinkedHashMap<>();
    final Map<Digest, Manifest> manifests = new LinkedHashMap<>();
    final List<String> warnings = new ArrayList<>();

    long bytes() {
      return blobs.values().stream().mapToLong(Long::longValue).sum()
          + manifests.values().stream().mapToLong(manifest -> manifest.bytes().length).sum();
    }
  }

  /** @param images each resolved from the cache: upstream, repository, tag (or null) and manifest digest */
  Outcome export(Path out, List<Bundle.Image> images, Progress progress) throws IOException {
    // Early, for a quick answer; publish() is what guarantees nothing is overwritten.
    if (Files.exists(out, LinkOption.NOFOLLOW_LINKS)) {
      throw exists(out);
    }
    progress.phase("collecting");
    Contents contents = new Contents();
    for (Bundle.Image image : images) {
      Digest digest = Digest.parse(image.digest());
      Manifest manifest = collect(digest, contents, image.toString());
      contents.images.add(new Bundle.Image(image.upstream(), image.repository(), image.tag(), image.digest(),
          manifest.mediaType()));
    }
    progress.expect(contents.blobs.size() + contents.manifests.size(), contents.bytes());
    progress.phase("writing");
    Path absolute = out.toAbsolutePath();
    Path temp = absolute.resolveSibling("." + absolute.getFileName() + "." + UUID.randomUUID() + ".partial");
    try {
      write(temp, contents, progress);
      publish(temp, absolute);
    } finally {
      Files.deleteIfExists(temp);
    }
    progress.phase("done");
    List<String> names = contents.images.stream().map(Bundle.Image::toString).toList();
    return new Outcome(names, contents.blobs.size() + contents.manifests.size(), contents.bytes(), 0, contents.warnings);
  }

  /**
   * Gives the complete, synced {@code temp} the name {@code target}, unless something has that
   * name, even a file that appeared after the export began: a hard link is created only where no
   * entry exists, atomically, where a rename would replace it. The caller deletes {@code temp}.
   *
   * @throws OperationException 409 when {@code target} exists
   */
  static void publish(Path temp, Path target) throws IOException {
    try {
      Files.createLink(target, temp);
    } catch (FileAlreadyExistsException e) {
      throw exists(target);
    } catch (UnsupportedOperationException e) {
      throw new IOException("the file system of " + target.getParent() + " has no hard links, which a bundle needs"
          + " to appear whole without replacing a file", e);
    }
    try (FileChannel directory = FileChannel.open(target.getParent(), StandardOpenOption.READ)) {
      directory.force(true);
    }
  }

  private static OperationException exists(Path file) {
    return new OperationException(409, file + " exists: remove it or choose another name");
  }

  /**
   * Adds a manifest and what it refers to, children before parents.
   *
   * @throws OperationException when the manifest, or any blob of an image, is not cached
   */
  private Manifest collect(Digest digest, Contents contents, String name) {
    Manifest manifest = cache.readManifest(digest)
        .orElseThrow(() -> new OperationException(404, name + ": its manifest is not cached"));
    if (manifest.isIndex()) {
      int included = 0;
      for (Descriptor child : manifest.parse().manifests()) {
        String platform = child.platform() != null ? child.platform().toString() : child.digest();
        try {
          collect(child.parsedDigest(), contents, name + " (" + platform + ")");
          included++;
        } catch (OperationException notWhole) {
          contents.warnings.add(notWhole.getMessage() + ": left out of the bundle");
        }
      }
      if (included == 0) {
        throw new OperationException(404, name + ": no platform of it is fully cached; run `cistern warm` first");
      }
    } else {
      List<Descriptor> blobs = manifest.parse().blobs();
      List<String> missing = new ArrayList<>();
      Map<Digest, Long> sizes = new LinkedHashMap<>();
      for (Descriptor blob : blobs) {
        Digest blobDigest = blob.parsedDigest();
        if (!cache.contains(blobDigest)) {
          missing.add(blob.digest());
        }
        sizes.put(blobDigest, blob.size());
      }
      if (!missing.isEmpty()) {
        throw new OperationException(404, name + ": " + missing.size() + " of its " + blobs.size()
            + " blobs are not cached; run `cistern warm` first");
      }
      sizes.forEach(contents.blobs::putIfAbsent);
    }
    contents.manifests.putIfAbsent(digest, manifest);
    return manifest;
  }

  private void write(Path temp, Contents contents, Progress progress) throws IOException {
    try (FileChannel channel = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE)) {
      OutputStream out = new BufferedOutputStream(Channels.newOutputStream(channel), COPY_BUFFER);
      BundleTarWriter tar = new BundleTarWriter(out);
      tar.file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8));
      List<Bundle.Content> manifests = new ArrayList<>();
      contents.manifests.values().forEach(manifest -> manifests.add(
          new Bundle.Content(manifest.digest().toString(), manifest.mediaType(), manifest.bytes().length)));
      Bundle bundle = new Bundle(Bundle.FORMAT, contents.images, manifests,
          contents.blobs.size() + contents.manifests.size(), contents.bytes());
      tar.file(Bundle.FILE, Json.prettyBytes(bundle));
      tar.file("index.json", ociIndex(contents));
      for (Map.Entry<Digest, Long> blob : contents.blobs.entrySet()) {
        copyBlob(tar, blob.getKey(), blob.getValue(), progress);
      }
      for (Manifest manifest : contents.manifests.values()) {
        tar.file(entryName(manifest.digest()), manifest.bytes());
        progress.done(manifest.bytes().length);
      }
      tar.finish();
      out.flush();
      channel.force(true);
    } catch (FileAlreadyExistsException e) {
      throw new IOException("cannot create " + temp, e);
    }
  }

  /**
   * Copies a blob into the bundle, hashing it on the way: a damaged copy (one a read finds cut
   * short is set aside by the cache, one with the wrong bytes is found here) fails the export.
   *
   * @param expectedSize the size its manifest gives it
   */
  private void copyBlob(BundleTarWriter tar, Digest digest, long expectedSize, Progress progress) throws IOException {
    FileChannel blob = cache.open(digest).map(BlobContent.FileRegion::channel)
        .orElseThrow(() -> new OperationException(409, digest + " is no longer cached (evicted, or set aside as damaged,"
            + " while the bundle was written): no bundle was written; run the export again"));
    MessageDigest hasher = digest.algorithm().newMessageDigest();
    // The open file is kept whatever eviction does meanwhile: an unlinked file stays readable.
    try (blob; InputStream in = Channels.newInputStream(blob)) {
      long size = blob.size();
      if (size != expectedSize) {
        throw damaged(digest, size + " bytes, its manifest says " + expectedSize);
      }
      tar.file(entryName(digest), size, out -> {
        byte[] buffer = new byte[COPY_BUFFER];
        int read;
        while ((read = in.read(buffer)) > 0) {
          hasher.update(buffer, 0, read);
          out.write(buffer, 0, read);
          progress.advance(read);
        }
      });
    }
    Digest actual = Digest.fromBytes(digest.algorithm(), hasher.digest());
    if (!actual.equals(digest)) {
      throw damaged(digest, "its bytes hash to " + actual);
    }
    progress.itemDone();
  }

  private static OperationException damaged(Digest digest, String found) {
    return new OperationException(422, "the cached copy of " + digest + " is damaged (" + found + "): no bundle was"
        + " written; run `cistern verify --repair`, then warm the image again (or import it from a sound bundle)");
  }

  static String entryName(Digest digest) {
    return "blobs/" + digest.algorithm().prefix() + "/" + digest.hex();
  }

  /** The OCI layout's index: one entry per image, named as a client would pull it through Cistern. */
  private static byte[] ociIndex(Contents contents) throws IOException {
    List<Map<String, Object>> entries = new ArrayList<>();
    for (Bundle.Image image : contents.images) {
      Map<String, String> annotations = new LinkedHashMap<>();
      if (image.tag() != null) {
        annotations.put("org.opencontainers.image.ref.name", image.upstream() + "/" + image.repository() + ":" + image.tag());
      }
      annotations.put("io.cistern.upstream", image.upstream());
      annotations.put("io.cistern.repository", image.repository());
      Map<String, Object> entry = new LinkedHashMap<>();
      entry.put("mediaType", image.mediaType());
      entry.put("digest", image.digest());
      entry.put("size", contents.manifests.get(Digest.parse(image.digest())).bytes().length);
      entry.put("annotations", annotations);
      entries.add(entry);
    }
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", MediaTypes.OCI_INDEX);
    index.put("manifests", entries);
    return Json.prettyBytes(index);
  }
}
