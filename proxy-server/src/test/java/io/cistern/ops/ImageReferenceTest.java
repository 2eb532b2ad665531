package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import io.cistern.oci.Digest;
import io.cistern.oci.Tag;
import org.junit.jupiter.api.Test;

class ImageReferenceTest {

  private static final String DIGEST = "sha256:" + "a".repeat(64);

  @Test
  void namesTagsAndDigestsAreSplitAsClientsWriteThem() {
    assertEquals(new ImageReference("ghcr.io/org/app", new Tag("1.0")), ImageReference.parse("ghcr.io/org/app:1.0"));
    assertEquals(new ImageReference("alpine", new Tag("latest")), ImageReference.parse("alpine"));
    assertEquals(new ImageReference("localhost:5000/app", new Tag("latest")), ImageReference.parse("localhost:5000/app"),
        "a port is not a tag");
    assertEquals(new ImageReference("localhost:5000/app", new Tag("2")), ImageReference.parse("localhost:5000/app:2"));
    assertEquals(new ImageReference("team/app", Digest.parse(DIGEST)), ImageReference.parse("team/app@" + DIGEST));
    assertEquals("team/app@" + DIGEST, ImageReference.parse(" team/app@" + DIGEST + " ").toString());
  }

  @Test
  void malformedReferencesAreBadRequests() {
    for (String bad : new String[] {"", "app:", "app:bad tag", "app@sha256:xyz", "@" + DIGEST}) {
      OperationException error = assertThrows(OperationException.class, () -> ImageReference.parse(bad), bad);
      assertEquals(400, error.status(), bad);
    }
  }
}
