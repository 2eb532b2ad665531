package io.cistern.oci;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * The parts of a manifest or index Cistern reads: children of an index, config and layers of an
 * image manifest, the subject of a referrer. Used to walk an image (warm, export) and to pick a
 * platform; never to re-serialise a manifest. Read by {@link ManifestReader}, without data binding.
 */
public record ManifestDocument(
    int schemaVersion,
    String mediaType,
    String artifactType,
    Descriptor config,
    List<Descriptor> layers,
    List<Descriptor> manifests,
    Descriptor subject) {

  public ManifestDocument {
    layers = layers == null ? List.of() : List.copyOf(layers);
    manifests = manifests == null ? List.of() : List.copyOf(manifests);
  }

  public static ManifestDocument parse(byte[] json) {
    try {
      return ManifestReader.read(json);
    } catch (IOException e) {
      throw new RegistryException(ErrorCode.MANIFEST_INVALID, "manifest is not valid JSON");
    }
  }

  /** The blobs an image manifest refers to: its config, then its layers. */
  public List<Descriptor> blobs() {
    List<Descriptor> blobs = new ArrayList<>(layers.size() + 1);
    if (config != null) {
      blobs.add(config);
    }
    blobs.addAll(layers);
    return blobs;
  }

  /**
   * Everything this document holds by reference: an image's config and layers, an index's
   * manifests. Not its subject: a referrer points at an image it does not own.
   */
  public List<Descriptor> references() {
    List<Descriptor> references = new ArrayList<>(blobs());
    references.addAll(manifests);
    return references;
  }

  /** The first index entry for {@code platform}, if any. */
  public Optional<Descriptor> childFor(Platform platform) {
    return manifests.stream()
        .filter(child -> child.platform() != null && child.platform().satisfies(platform))
        .findFirst();
  }
}
