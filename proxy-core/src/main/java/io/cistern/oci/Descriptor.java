package io.cistern.oci;

import com.fasterxml.jackson.annotation.JsonInclude;
import com.fasterxml.jackson.annotation.JsonProperty;
import java.util.Map;

/**
 * An OCI content descriptor: what a manifest says about a blob or a child manifest. Read by
 * {@link ManifestReader}; written by data binding (the referrers index), hence the
 * annotations.
 */
@JsonInclude(JsonInclude.Include.NON_NULL)
public record Descriptor(
    @JsonProperty("mediaType") String mediaType,
    @JsonProperty("digest") String digest,
    @JsonProperty("size") long size,
    @JsonProperty("platform") Platform platform,
    @JsonProperty("artifactType") String artifactType,
    @JsonProperty("annotations") Map<String, String> annotations) {

  /** The parsed digest; throws {@link RegistryException} if the manifest carried a bad one. */
  public Digest parsedDigest() {
    return Digest.parse(digest);
  }
}
