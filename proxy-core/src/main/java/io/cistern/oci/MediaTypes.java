package io.cistern.oci;

import java.util.List;

/** The manifest media types a pull-through cache has to tell apart. */
public final class MediaTypes {

  public static final String OCI_INDEX = "application/vnd.oci.image.index.v1+json";
  public static final String OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
  public static final String DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
  public static final String DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
  public static final String DOCKER_SCHEMA1_SIGNED = "application/vnd.docker.distribution.manifest.v1+prettyjws";
  public static final String DOCKER_SCHEMA1 = "application/vnd.docker.distribution.manifest.v1+json";
  public static final String OCTET_STREAM = "application/octet-stream";
  public static final String JSON = "application/json";

  /**
   * What Cistern asks an upstream for: every manifest type, so that what is cached under a tag is
   * what the upstream really holds (an index stays an index) and any client can be served from it.
   */
  public static final List<String> ALL_MANIFESTS =
      List.of(OCI_INDEX, OCI_MANIFEST, DOCKER_MANIFEST_LIST, DOCKER_MANIFEST, DOCKER_SCHEMA1_SIGNED, DOCKER_SCHEMA1);

  private MediaTypes() {}

  /** True for the multi-platform types (OCI index, Docker manifest list). */
  public static boolean isIndex(String mediaType) {
    return OCI_INDEX.equals(mediaType) || DOCKER_MANIFEST_LIST.equals(mediaType);
  }

  /**
   * True for the media types a manifest endpoint may serve; false for none (null: a blob's catalog
   * record, an object stored without a Content-Type).
   */
  public static boolean isManifest(String mediaType) {
    return mediaType != null && ALL_MANIFESTS.contains(mediaType);
  }
}
