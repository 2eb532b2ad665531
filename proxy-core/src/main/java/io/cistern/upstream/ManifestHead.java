package io.cistern.upstream;

import io.cistern.oci.Digest;
import java.util.Optional;
import java.util.OptionalLong;

/** What an upstream's {@code HEAD /manifests/<ref>} tells: enough to revalidate a tag. */
public record ManifestHead(Optional<Digest> digest, String mediaType, OptionalLong size) {}
