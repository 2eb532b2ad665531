package io.cistern.oci;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * The answer of the OCI referrers API: an image index whose entries are the manifests that name a
 * subject. The same document is what the {@code sha256-<hex>} fallback tag holds on registries
 * without the API, so both sources read into this one shape.
 */
public record ReferrersIndex(List<Descriptor> manifests) {

  /** No referrers: what a subject nobody refers to has, and what a missing fallback tag means. */
  public static final ReferrersIndex EMPTY = new ReferrersIndex(List.of());

  public ReferrersIndex {
    manifests = List.copyOf(manifests);
  }

  /** Reads the entries of an index document (a referrers page or a fallback tag's manifest). */
  public static ReferrersIndex parse(byte[] index) {
    return new ReferrersIndex(ManifestDocument.parse(index).manifests());
  }

  /** This index followed by the entries of {@code next} (the next page of a paginated answer). */
  public ReferrersIndex plus(ReferrersIndex next) {
    List<Descriptor> all = new ArrayList<>(manifests);
    all.addAll(next.manifests);
    return new ReferrersIndex(all);
  }

  /** Only the entries of {@code artifactType}: the API's {@code artifactType} filter. */
  public ReferrersIndex ofArtifactType(String artifactType) {
    return new ReferrersIndex(manifests.stream().filter(entry -> artifactType.equals(entry.artifactType())).toList());
  }

  /** The index as the API serves it. */
  public byte[] toBytes() {
    Map<String, Object> index = new LinkedHashMap<>();
    index.put("schemaVersion", 2);
    index.put("mediaType", MediaTypes.OCI_INDEX);
    index.put("manifests", manifests);
    return Json.bytes(index);
  }

  /** The index as a document Cistern can store and address by digest, like any manifest. */
  public Manifest toManifest() {
    return Manifest.of(MediaTypes.OCI_INDEX, toBytes());
  }
}
