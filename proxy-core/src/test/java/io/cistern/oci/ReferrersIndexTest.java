package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class ReferrersIndexTest {

  private static final String SBOM = "application/spdx+json";
  private static final String SIGNATURE = "application/vnd.dev.cosign.artifact.sig.v1+json";
  private static final Descriptor SBOM_ENTRY = new Descriptor(MediaTypes.OCI_MANIFEST,
      "sha256:" + "a".repeat(64), 500, null, SBOM, Map.of("org.opencontainers.image.created", "2026-01-01T00:00:00Z"));
  private static final Descriptor SIGNATURE_ENTRY = new Descriptor(MediaTypes.OCI_MANIFEST,
      "sha256:" + "b".repeat(64), 400, null, SIGNATURE, null);

  @Test
  void servesAnOciIndexWithEveryEntryAndItsFields() throws Exception {
    byte[] bytes = new ReferrersIndex(List.of(SBOM_ENTRY, SIGNATURE_ENTRY)).toBytes();
    JsonNode index = new ObjectMapper().readTree(bytes);
    assertEquals(2, index.get("schemaVersion").asInt());
    assertEquals(MediaTypes.OCI_INDEX, index.get("mediaType").asText());
    assertEquals(SBOM, index.get("manifests").get(0).get("artifactType").asText());
    assertEquals("2026-01-01T00:00:00Z", index.get("manifests").get(0).get("annotations").get("org.opencontainers.image.created").asText());
    assertEquals(List.of(SBOM_ENTRY, SIGNATURE_ENTRY), ReferrersIndex.parse(bytes).manifests(), "it reads back the same");
  }

  @Test
  void filtersByArtifactType() {
    ReferrersIndex both = new ReferrersIndex(List.of(SBOM_ENTRY, SIGNATURE_ENTRY));
    assertEquals(List.of(SIGNATURE_ENTRY), both.ofArtifactType(SIGNATURE).manifests());
    assertEquals(List.of(), both.ofArtifactType("application/unknown").manifests());
  }

  @Test
  void pagesAddUpInOrder() {
    ReferrersIndex first = new ReferrersIndex(List.of(SBOM_ENTRY));
    assertEquals(List.of(SBOM_ENTRY, SIGNATURE_ENTRY), first.plus(new ReferrersIndex(List.of(SIGNATURE_ENTRY))).manifests());
  }

  @Test
  void theEmptyListIsAValidIndexWithAStableDigest() {
    String json = new String(ReferrersIndex.EMPTY.toBytes(), StandardCharsets.UTF_8);
    assertEquals("{\"schemaVersion\":2,\"mediaType\":\"" + MediaTypes.OCI_INDEX + "\",\"manifests\":[]}", json);
    assertEquals(ReferrersIndex.EMPTY.toManifest().digest(), new ReferrersIndex(List.of()).toManifest().digest());
  }

  @Test
  void theFallbackTagOfALongDigestIsStillAValidTag() {
    Digest sha512 = Digest.of(Digest.Algorithm.SHA512, new byte[0]);
    String tag = sha512.referrersTag();
    assertEquals("sha512-" + sha512.hex().substring(0, 64), tag);
    assertEquals(tag, new Tag(tag).value());
  }

  @Test
  void readsAnUpstreamAnswerSkippingWhatItDoesNotKnow() {
    byte[] page = """
        {"schemaVersion":2,"mediaType":"%s","annotations":{"page":{"n":1}},"manifests":[
          {"mediaType":"%s","digest":"%s","size":"500","artifactType":"%s","data":"e30=","urls":[],
           "annotations":{"org.opencontainers.image.created":"2026-01-01T00:00:00Z"}},
          {"mediaType":"%s","digest":"%s","size":400.0,"artifactType":"%s","annotations":null}]}
        """.formatted(MediaTypes.OCI_INDEX, MediaTypes.OCI_MANIFEST, SBOM_ENTRY.digest(), SBOM,
        MediaTypes.OCI_MANIFEST, SIGNATURE_ENTRY.digest(), SIGNATURE).getBytes(StandardCharsets.UTF_8);
    assertEquals(List.of(SBOM_ENTRY, SIGNATURE_ENTRY), ReferrersIndex.parse(page).manifests());
    assertEquals(List.of(), ReferrersIndex.parse("{\"manifests\":null}".getBytes(StandardCharsets.UTF_8)).manifests(),
        "a null list of entries is no entries");
  }

  @Test
  void anAnswerThatIsNotAnIndexIsAManifestError() {
    for (String answer : List.of("null", "[]", "{\"manifests\":{}}", "{\"manifests\":[null]}",
        "{\"manifests\":[{\"size\":\"big\"}]}", "{\"manifests\":[{\"annotations\":{\"k\":[]}}]}")) {
      RegistryException error = assertThrows(RegistryException.class,
          () -> ReferrersIndex.parse(answer.getBytes(StandardCharsets.UTF_8)), answer);
      assertEquals(ErrorCode.MANIFEST_INVALID, error.code(), answer);
    }
  }
}
