package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.api.Test;

class MediaTypesTest {

  @Test
  void noMediaTypeIsNoManifest() {
    assertFalse(MediaTypes.isManifest(null), "a blob's catalog record has none");
    assertFalse(MediaTypes.isManifest(MediaTypes.OCTET_STREAM));
    assertTrue(MediaTypes.isManifest(MediaTypes.OCI_MANIFEST));
  }
}
