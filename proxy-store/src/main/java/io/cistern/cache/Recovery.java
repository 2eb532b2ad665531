package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RegistryException;
import java.io.InputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.BasicFileAttributes;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Brings files and rows back into agreement after a crash (the previous run left no clean-shutdown
 * marker): temp files are deleted, a published file without a row is adopted (it was verified
 * before its rename), and a row without a file is dropped with its tag mappings.
 *
 * <p>It walks the store one shard directory at a time and compares it with that shard's rows, so
 * memory stays proportional to one shard, not to the whole cache. It runs only at start-up and
 * only after an unclean stop; a clean stop skips it entirely.
 */
final class Recovery {

  private static final Logger log = LoggerFactory.getLogger(Recovery.class);

  record Outcome(int partialsDeleted, int filesAdopted, int rowsDropped) {}

  private final BlobStore blobs;
  private final MetadataStore metadata;

  Recovery(BlobStore blobs, MetadataStore metadata) {
    this.blobs = blobs;
    this.metadata = metadata;
  }

  Outcome run() throws IOException {
    int[] counts = new int[3];
    Set<String> visitedShards = new HashSet<>();
    blobs.forEachShard((algorithm, shard) -> {
      String prefix = algorithm.prefix() + ":" + shard.getFileName();
      visitedShards.add(prefix);
      Set<String> rows = metadata.digestsWithPrefix(prefix);
      try (DirectoryStream<Path> files = Files.newDirectoryStream(shard)) {
        for (Path file : files) {
          String name = file.getFileName().toString();
          if (name.endsWith(BlobStore.PARTIAL_SUFFIX)) {
            Files.deleteIfExists(file);
            counts[0]++;
            continue;
          }
          Digest digest = parseOrNull(algorithm, name);
          if (digest == null) {
            continue;
          }
          if (!rows.remove(digest.toString())) {
            adopt(digest, file);
            counts[1]++;
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
      // What is left had a row but no file.
      dropRows(rows);
      counts[2] += rows.size();
    });
    for (String prefix : metadata.shardPrefixes()) {
      if (!visitedShards.contains(prefix)) {
        Set<String> rows = metadata.digestsWithPrefix(prefix);
        dropRows(rows);
        counts[2] += rows.size();
      }
    }
    Outcome outcome = new Outcome(counts[0], counts[1], counts[2]);
    log.info("recovered the cache after an unclean stop: {} temp files deleted, {} files adopted, {} rows dropped",
        outcome.partialsDeleted(), outcome.filesAdopted(), outcome.rowsDropped());
    return outcome;
  }

  /**
   * Records a published file that lost its row. A manifest is recognised by its content, so that
   * it keeps its media type and what it refers to (pins and purges walk those).
   */
  private void adopt(Digest digest, Path file) throws IOException {
    BasicFileAttributes attributes = Files.readAttributes(file, BasicFileAttributes.class);
    long modified = attributes.lastModifiedTime().toMillis();
    String mediaType = null;
    List<Digest> references = List.of();
    if (attributes.size() <= Manifest.MAX_BYTES && startsLikeJson(file)) {
      byte[] bytes = Files.readAllBytes(file);
      try {
        String declared = ManifestDocument.parse(bytes).mediaType();
        if (declared != null && MediaTypes.isManifest(declared)) {
          mediaType = declared;
          references = BlobCache.referencesOf(bytes);
        }
      } catch (RegistryException notAManifest) {
        // A JSON config blob, or anything else: adopted as a plain blob.
      }
    }
    metadata.insertBlob(digest, attributes.size(), mediaType, references, modified);
  }

  private static boolean startsLikeJson(Path file) throws IOException {
    try (InputStream in = Files.newInputStream(file)) {
      return in.read() == '{';
    }
  }

  private void dropRows(Set<String> digests) {
    List<Digest> parsed = new ArrayList<>(digests.size());
    digests.forEach(text -> parsed.add(Digest.parse(text)));
    metadata.deleteBlobRows(parsed);
  }

  private static Digest parseOrNull(Digest.Algorithm algorithm, String hex) {
    try {
      return new Digest(algorithm, hex);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }
}
