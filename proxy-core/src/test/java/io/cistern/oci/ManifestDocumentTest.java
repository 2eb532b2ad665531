package io.cistern.oci;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

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

  @Test
  void readsEveryFieldOfADescriptorAndSkipsUnknownOnesAtAnyDepth() {
    ManifestDocument index = parse("""
        {"schemaVersion":2,"mediaType":"i","artifactType":"a","unknown":{"deep":[1,{"x":null},[]]},
         "manifests":[{"mediaType":"m","digest":"%s","size":7,"urls":["u"],"artifactType":"t",
           "platform":{"os":"linux","architecture":"arm64","variant":"v8","os.features":["f"]},
           "annotations":{"k":"v","n":5,"b":true,"z":null}}],
         "subject":{"mediaType":"s","digest":"%s","size":3}}
        """.formatted(DIGEST_A, DIGEST_B));
    Map<String, String> annotations = new LinkedHashMap<>();
    annotations.put("k", "v");
    annotations.put("n", "5");
    annotations.put("b", "true");
    annotations.put("z", null);
    assertEquals(new ManifestDocument(2, "i", "a", null, List.of(),
        List.of(new Descriptor("m", DIGEST_A, 7, new Platform("linux", "arm64", "v8"), "t", annotations)),
        new Descriptor("s", DIGEST_B, 3, null, null, null)), index);
  }

  /** What data binding read by coercion, and a registry might still send, reads the same. */
  @Test
  void acceptsWhatDataBindingAcceptedByCoercion() {
    assertEquals(List.of(12L, 12L, 1000L, 12L, 12L, 0L),
        parse("""
            {"layers":[{"size":"12"},{"size":12.0},{"size":1e3},{"size":" 12"},{"size":"+12"},{"size":null}]}
            """).layers().stream().map(Descriptor::size).toList(), "integers as strings or whole floats; null is 0");
    assertEquals(2, parse("{\"schemaVersion\":\"2\"}").schemaVersion());
    ManifestDocument nulls = parse("{\"config\":null,\"layers\":null,\"manifests\":null,\"mediaType\":null}");
    assertEquals(new ManifestDocument(0, null, null, null, List.of(), List.of(), null), nulls, "null lists are empty");
    assertEquals("5", parse("{\"mediaType\":5}").mediaType(), "a scalar where a string belongs is its text");
    assertEquals(List.of(DIGEST_B), parse("""
        {"layers":[{"digest":"%s"}],"layers":[{"digest":"%s"}]}
        """.formatted(DIGEST_A, DIGEST_B)).layers().stream().map(Descriptor::digest).toList(), "the last duplicate wins");
    assertEquals("m", parse("{\"mediaType\":\"m\"} and then anything").mediaType(),
        "nothing is read past the document, as before");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "", "not json", "[]", "12", "\"text\"", "{\"layers\":[", "{\"unknown\":[1,}",
      "{\"layers\":{}}", "{\"layers\":\"x\"}", "{\"layers\":[null]}", "{\"layers\":[5]}", "{\"layers\":[[]]}",
      "{\"config\":\"x\"}", "{\"config\":[]}", "{\"subject\":5}", "{\"mediaType\":{}}", "{\"artifactType\":[]}",
      "{\"layers\":[{\"size\":\"x\"}]}", "{\"layers\":[{\"size\":true}]}", "{\"layers\":[{\"size\":{}}]}",
      "{\"layers\":[{\"size\":99999999999999999999}]}", "{\"layers\":[{\"size\":1e30}]}",
      "{\"schemaVersion\":99999999999}", "{\"schemaVersion\":\"2.5\"}", "{\"layers\":[{\"digest\":{}}]}",
      "{\"layers\":[{\"annotations\":[]}]}", "{\"layers\":[{\"annotations\":{\"k\":{}}}]}",
      "{\"manifests\":[{\"platform\":\"linux/amd64\"}]}", "{\"manifests\":[{\"platform\":{\"os\":[]}}]}",
      "{\"schemaVersion\":NaN}", "{'mediaType':'m'}", "/* comment */ {}"})
  void notJsonOrAKnownFieldOfTheWrongTypeIsAManifestError(String document) {
    assertInvalid(document);
  }

  /**
   * Data binding read these as a document; they are refused now. A fractional number truncated, or
   * {@code ""} and {@code "null"} read as 0, gave a size (or schema version) the document does not
   * state, and no registry writes them (Distribution's own decoder refuses them). A {@code null}
   * document read as {@code null}, which every caller dereferenced.
   */
  @ParameterizedTest
  @ValueSource(strings = {"null", "{\"layers\":[{\"size\":12.9}]}", "{\"layers\":[{\"size\":-1.5}]}",
      "{\"layers\":[{\"size\":\"\"}]}", "{\"layers\":[{\"size\":\"null\"}]}", "{\"schemaVersion\":2.7}",
      "{\"schemaVersion\":\"\"}"})
  void whatDataBindingTruncatedOrReadAsNothingIsAManifestError(String document) {
    assertInvalid(document);
  }

  private static void assertInvalid(String document) {
    RegistryException error = assertThrows(RegistryException.class, () -> parse(document), document);
    assertEquals(ErrorCode.MANIFEST_INVALID, error.code());
    assertEquals("manifest is not valid JSON", error.getMessage());
  }

  private static ManifestDocument parse(String json) {
    return ManifestDocument.parse(json.getBytes(StandardCharsets.UTF_8));
  }
}
