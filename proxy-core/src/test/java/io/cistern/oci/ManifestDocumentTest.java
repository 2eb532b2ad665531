package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import org.junit.jupiter.api.Test;

class ManifestDocumentTest {

  private static final String DIGEST_A = "sha256:" + "a".repeat(64);
  private static final String DIGEST_B = "sha256:" + "b".repeat(64);

  @Test
  void picksAnIndexEntryByPlatform() {
    ManifestDocument index = ManifestDocument.parse(("""
        {"schemaVersion":2,"mediaType":"%s","manifests":[
          {"mediaType":"%s","digest":"%s","size":1,"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
          {"mediaType":"%s","digest":"%s","size":2,"platform":{"os":"linux","architecture":"amd64"}}]}
        """).formatted(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST, DIGEST_A, MediaTypes.OCI_MANIFEST, DIGEST_B)
        .getBytes(StandardCharsets.UTF_8));
    assertEquals(DIGEST_B, index.childFor(Platform.LINUX_AMD64).orElseThrow().digest());
    assertEquals(DIGEST_A, index.childFor(Platform.parse("linux/arm64")).orElseThrow().digest());
    assertTrue(index.childFor(Platform.parse("linux/arm64/v7")).isEmpty());
  }

  @Test
  void listsConfigThenLayers() {
    ManifestDocument image = ManifestDocument.parse(("""
        {"schemaVersion":2,"config":{"mediaType":"c","digest":"%s","size":1},
         "layers":[{"mediaType":"l","digest":"%s","size":2}]}
        """).formatted(DIGEST_A, DIGEST_B).getBytes(StandardCharsets.UTF_8));
    assertEquals(2, image.blobs().size());
    assertEquals(DIGEST_A, image.blobs().get(0).digest());
  }

  @Test
  void referencesAreTheBlobsAndChildManifestsButNotTheSubject() {
    String digestC = "sha256:" + "c".repeat(64);
    ManifestDocument image = ManifestDocument.parse(("""
        {"schemaVersion":2,"config":{"mediaType":"c","digest":"%s","size":1},
         "layers":[{"mediaType":"l","digest":"%s","size":2}],
         "subject":{"mediaType":"m","digest":"%s","size":3}}
        """).formatted(DIGEST_A, DIGEST_B, digestC).getBytes(StandardCharsets.UTF_8));
    assertEquals(java.util.List.of(DIGEST_A, DIGEST_B), image.references().stream().map(Descriptor::digest).toList());
    ManifestDocument index = ManifestDocument.parse(("""
        {"schemaVersion":2,"manifests":[{"mediaType":"m","digest":"%s","size":1}]}
        """).formatted(digestC).getBytes(StandardCharsets.UTF_8));
    assertEquals(java.util.List.of(digestC), index.references().stream().map(Descriptor::digest).toList());
  }

  @Test
  void notJsonIsAManifestError() {
    RegistryException error = assertThrows(RegistryException.class,
        () -> ManifestDocument.parse("not json".getBytes(StandardCharsets.UTF_8)));
    assertEquals(ErrorCode.MANIFEST_INVALID, error.code());
  }
}
