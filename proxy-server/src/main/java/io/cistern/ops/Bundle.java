package io.cistern.ops;

import com.fasterxml.jackson.annotation.JsonInclude;
import java.util.List;

/**
 * The table of contents of a Cistern bundle, {@value #FILE}: which tags of which repositories at
 * which upstreams point at which manifests, and the media type of every manifest in it.
 *
 * <p>A bundle is a tar holding an OCI image layout ({@code oci-layout}, {@code index.json},
 * {@code blobs/<algorithm>/<hex>}) with this file beside them. Its entries come in this order:
 * {@code oci-layout}, {@value #FILE}, {@code index.json}, then blobs (configs and layers), then
 * manifests, each after everything it refers to. So an import knows every manifest before it
 * meets one, and a reader of a truncated bundle never finds a manifest whose blobs are missing.
 *
 * @param format {@value #FORMAT}
 * @param blobs entries under {@code blobs/}, manifests included
 * @param bytes their bytes
 */
public record Bundle(String format, List<Image> images, List<Content> manifests, long blobs, long bytes) {

  public static final String FILE = "cistern-bundle.json";
  public static final String FORMAT = "cistern-bundle/v1";

  public Bundle {
    images = List.copyOf(images);
    manifests = List.copyOf(manifests);
  }

  /**
   * A tag (or, with {@code tag} null, a manifest a repository holds untagged).
   *
   * @param upstream the upstream host the repository belongs to, as Cistern's configuration names it
   */
  @JsonInclude(JsonInclude.Include.NON_NULL)
  public record Image(String upstream, String repository, String tag, String digest, String mediaType) {

    @Override
    public String toString() {
      return upstream + "/" + repository + (tag != null ? ":" + tag + "@" : "@") + digest;
    }
  }

  /** A manifest in the bundle. */
  public record Content(String digest, String mediaType, long size) {}
}
