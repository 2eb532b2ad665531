package io.cistern.cache.bucket;

import io.cistern.oci.Digest;

/**
 * Where each object lives in the bucket, under the configured prefix: blobs and manifests at
 * {@code blobs/<algorithm>/<hex>}, their pinned copies at {@code pinned/<algorithm>/<hex>}, and
 * documents under the names their callers give them (the README's table of the bucket's layout).
 *
 * @param prefix the settings' prefix, without slashes at either end; empty for the bucket's root
 */
record BucketKeys(String prefix) {

  /** {@code <prefix>/blobs/<algorithm>/<hex>}. */
  String blob(Digest digest) {
    return named("blobs/" + digest.algorithm().prefix() + "/" + digest.hex());
  }

  /** {@code <prefix>/pinned/<algorithm>/<hex>}. */
  String pinned(Digest digest) {
    return named("pinned/" + digest.algorithm().prefix() + "/" + digest.hex());
  }

  /** {@code <prefix>/<name>}. */
  String named(String name) {
    return prefix.isEmpty() ? name : prefix + "/" + name;
  }
}
