package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;

/** Pin names for tests that pin an image by its digest. */
final class TestPins {

  private TestPins() {}

  static PinName byDigest(Digest digest) {
    return new PinName("upstream.test", RepositoryName.of("team/app"), digest);
  }
}
