package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.oci.Digest;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.RawHttpConnection;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** The pull API's headers, content negotiation, pagination and error answers, against a real upstream. */
class RegistryApiTest {

  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static TestCistern cistern;
  private static final TestImage amd64 = TestImage.random(11, 1, 10_000, "amd64");
  private static final TestImage arm64 = TestImage.random(12, 1, 10_000, "arm64");
  private static final TestImage index = TestImage.index(List.of("amd64", "arm64"), List.of(amd64, arm64));

  @BeforeAll
  static void start() throws Exception {
    upstream.push("lib/multi", "latest", index);
    for (String tag : List.of("b", "a", "d", "c", "e")) {
      upstream.push("lib/tagged", tag, amd64);
    }
    cistern = TestCistern.forUpstream(temp.resolve("cistern"), upstream.url());
  }

  @AfterAll
  static void stop() {
    cistern.close();
  }

  @Test
  void theBaseEndpointAnnouncesTheApiVersion() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/");
    assertEquals(200, response.statusCode());
    assertEquals("registry/2.0", response.headers().firstValue("Docker-Distribution-API-Version").orElseThrow());
  }

  @Test
  void aManifestComesWithTheHeadersClientsRelyOn() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/lib/multi/manifests/latest", "Accept", MediaTypes.OCI_INDEX);
    assertEquals(200, response.statusCode());
    assertArrayEquals(index.manifest().bytes(), response.body());
    assertEquals(MediaTypes.OCI_INDEX, response.headers().firstValue("Content-Type").orElseThrow());
    assertEquals(index.digest().toString(), response.headers().firstValue("Docker-Content-Digest").orElseThrow());
    assertEquals("\"" + index.digest() + "\"", response.headers().firstValue("ETag").orElseThrow());
    assertEquals(index.manifest().bytes().length, response.headers().firstValueAsLong("Content-Length").orElseThrow());
  }

  @Test
  void headAnswersTheSameHeadersWithoutABody() throws Exception {
    HttpResponse<byte[]> response = cistern.send("HEAD", "/v2/lib/multi/manifests/" + index.digest());
    assertEquals(200, response.statusCode());
    assertEquals(0, response.body().length);
    assertEquals(index.manifest().bytes().length, response.headers().firstValueAsLong("Content-Length").orElseThrow());
    assertEquals(index.digest().toString(), response.headers().firstValue("Docker-Content-Digest").orElseThrow());

    TestImage.Blob layer = amd64.blobs().get(1);
    HttpResponse<byte[]> blob = cistern.send("HEAD", "/v2/lib/multi/blobs/" + layer.digest());
    assertEquals(200, blob.statusCode());
    assertEquals(layer.bytes().length, blob.headers().firstValueAsLong("Content-Length").orElseThrow());
    assertEquals(0, blob.body().length);
  }

  @Test
  void aClientThatCannotTakeAnIndexGetsTheLinuxAmd64Manifest() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/lib/multi/manifests/latest", "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode());
    assertArrayEquals(amd64.manifest().bytes(), response.body());
    assertEquals(amd64.digest().toString(), response.headers().firstValue("Docker-Content-Digest").orElseThrow());
  }

  @Test
  void aClientThatTakesNeitherGetsManifestUnknown() throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/lib/multi/manifests/latest", "Accept", MediaTypes.DOCKER_MANIFEST);
    assertError(response, 404, "MANIFEST_UNKNOWN");
  }

  @Test
  void aBlobIsServedWithItsDigestAndAnEtagRevalidates() throws Exception {
    TestImage.Blob layer = amd64.blobs().get(1);
    HttpResponse<byte[]> response = cistern.get("/v2/lib/multi/blobs/" + layer.digest());
    assertEquals(200, response.statusCode());
    assertArrayEquals(layer.bytes(), response.body());
    assertEquals(layer.digest().toString(), response.headers().firstValue("Docker-Content-Digest").orElseThrow());
    HttpResponse<byte[]> again = cistern.get("/v2/lib/multi/blobs/" + layer.digest(), "If-None-Match", "\"" + layer.digest() + "\"");
    assertEquals(304, again.statusCode());
  }

  @Test
  void tagsAreListedSortedAndPagedWithALinkHeader() throws Exception {
    HttpResponse<byte[]> first = cistern.get("/v2/lib/tagged/tags/list?n=2");
    assertEquals(200, first.statusCode());
    JsonNode page = JSON.readTree(first.body());
    assertEquals("lib/tagged", page.get("name").asText());
    assertEquals(List.of("a", "b"), strings(page.get("tags")));
    assertEquals("</v2/lib/tagged/tags/list?n=2&last=b>; rel=\"next\"", first.headers().firstValue("Link").orElseThrow());

    JsonNode last = JSON.readTree(cistern.get("/v2/lib/tagged/tags/list?n=2&last=d").body());
    assertEquals(List.of("e"), strings(last.get("tags")));
    HttpResponse<byte[]> all = cistern.get("/v2/lib/tagged/tags/list");
    assertEquals(List.of("a", "b", "c", "d", "e"), strings(JSON.readTree(all.body()).get("tags")));
    assertTrue(all.headers().firstValue("Link").isEmpty());
    assertError(cistern.get("/v2/lib/tagged/tags/list?n=-1"), 400, "PAGINATION_NUMBER_INVALID");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "/v2/Upper/manifests/latest",
      "/v2/a/../b/manifests/latest",
      "/v2/a//b/manifests/latest",
      "/v2/a%2F..%2F..%2Fetc/manifests/latest",
      "/v2/-a/manifests/latest",
  })
  void invalidNamesAreNameInvalid(String path) throws Exception {
    assertError(cistern.get(path), 400, "NAME_INVALID");
  }

  @Test
  void aTooLongNameIsNameInvalid() throws Exception {
    assertError(cistern.get("/v2/" + "a".repeat(256) + "/manifests/latest"), 400, "NAME_INVALID");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "sha256:abc",
      "md5:d41d8cd98f00b204e9800998ecf8427e",
      "sha256:..%2F..%2F..%2F..%2Fetc%2Fpasswd",
      "sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855",
  })
  void invalidDigestsAreDigestInvalid(String digest) throws Exception {
    assertError(cistern.get("/v2/lib/multi/blobs/" + digest), 400, "DIGEST_INVALID");
    assertError(cistern.get("/v2/lib/multi/manifests/" + digest), 400, "DIGEST_INVALID");
  }

  @Test
  void unknownContentIsUnknownNotAnError() throws Exception {
    assertError(cistern.get("/v2/lib/multi/blobs/sha256:" + "0".repeat(64)), 404, "BLOB_UNKNOWN");
    assertError(cistern.get("/v2/lib/nothing/manifests/latest"), 404, "MANIFEST_UNKNOWN");
  }

  /*
   * References that are neither a tag nor a digest, and malformed digests. What the others answer
   * (checked 2026-12-04):
   * - OCI distribution-spec: a manifest <reference> is a tag ([a-zA-Z0-9_][a-zA-Z0-9._-]{0,127})
   *   or a digest, and a manifest not found "MUST be 404 Not Found"; its conformance suite GETs
   *   and HEADs manifests/.INVALID_MANIFEST_NAME and expects 404, and GETs
   *   manifests/sha256:totallywrong expecting 400 or 404 (a 400 with a spec error code). For
   *   referrers, a registry with the API "MUST NOT return a 404", and invalid <digest> syntax
   *   "MUST" be 400.
   * - CNCF Distribution 2.8.2 (Debian's docker-registry): manifests/.INVALID_MANIFEST_NAME, -bad,
   *   a 129-character tag and SHA256:abcd are 404 (its routes do not match them); manifests/sha256:xyz
   *   is taken for a tag and fails with 500 UNKNOWN; blobs/sha256:xyz and blobs/sha999:abcd are
   *   400 DIGEST_INVALID; blobs/notadigest is 404; it has no referrers endpoint (404).
   * Cistern: not digest-shaped and not a tag is 404 MANIFEST_UNKNOWN (BLOB_UNKNOWN for a blob);
   * digest-shaped (a lower-case algorithm and a colon) but malformed is 400 DIGEST_INVALID, for
   * manifests too (Distribution's 500 there is its bug); a referrers subject that is not a valid
   * digest is 400 DIGEST_INVALID. The name is checked first: a bad name is 400 NAME_INVALID.
   * None of them asks the upstream.
   */
  @ParameterizedTest
  @ValueSource(strings = {
      "/v2/lib/multi/manifests/.INVALID_MANIFEST_NAME",
      "/v2/lib/multi/manifests/.INVALID_MANIFEST_NAME?ns=upstream.test",
      "/v2/upstream.test/lib/multi/manifests/.INVALID_MANIFEST_NAME",
      "/v2/lib/nothing/manifests/.INVALID_MANIFEST_NAME",
      "/v2/lib/multi/manifests/-bad-tag",
      "/v2/lib/multi/manifests/SHA256:abcd",
      "/v2/lib/multi/manifests/:abc",
  })
  void aReferenceThatIsNeitherATagNorADigestIsManifestUnknown(String path) throws Exception {
    int upstreamRequests = upstream.accessLog().size();
    assertError(cistern.get(path), 404, "MANIFEST_UNKNOWN");
    assertEquals(404, cistern.send("HEAD", path).statusCode());
    assertError(cistern.get(path.replace(".INVALID_MANIFEST_NAME", "a".repeat(129))), 404, "MANIFEST_UNKNOWN");
    assertEquals(upstreamRequests, upstream.accessLog().size(), "no such manifest can exist: nothing to ask");
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "?ns=upstream.test", "upstream.test/"})
  void aMalformedDigestIsDigestInvalidInEveryRoutingForm(String form) throws Exception {
    String prefix = form.startsWith("?") ? "/v2/" : "/v2/" + form;
    String query = form.startsWith("?") ? form : "";
    int upstreamRequests = upstream.accessLog().size();
    for (String digest : List.of("sha256:xyz", "sha999:abcd")) {
      assertError(cistern.get(prefix + "lib/multi/manifests/" + digest + query), 400, "DIGEST_INVALID");
      assertError(cistern.get(prefix + "lib/multi/blobs/" + digest + query), 400, "DIGEST_INVALID");
      assertError(cistern.get(prefix + "lib/multi/referrers/" + digest + query), 400, "DIGEST_INVALID");
      assertEquals(400, cistern.send("HEAD", prefix + "lib/multi/manifests/" + digest + query).statusCode());
      assertEquals(400, cistern.send("HEAD", prefix + "lib/multi/blobs/" + digest + query).statusCode());
    }
    assertError(cistern.get(prefix + "lib/multi/blobs/notadigest" + query), 404, "BLOB_UNKNOWN");
    assertEquals(404, cistern.send("HEAD", prefix + "lib/multi/blobs/.INVALID" + query).statusCode());
    assertError(cistern.get(prefix + "lib/multi/referrers/notadigest" + query), 400, "DIGEST_INVALID");
    assertEquals(upstreamRequests, upstream.accessLog().size(), "a malformed digest is refused before any upstream request");
  }

  @ParameterizedTest
  @ValueSource(strings = {
      "/v2/Upper/manifests/.INVALID_MANIFEST_NAME",
      "/v2/Upper/manifests/.INVALID_MANIFEST_NAME?ns=upstream.test",
      "/v2/upstream.test/Upper/manifests/.INVALID_MANIFEST_NAME",
      "/v2/upstream.test/Upper/blobs/notadigest",
      "/v2/-a/manifests/sha256:xyz",
  })
  void aBadNameIsNameInvalidWhateverTheReference(String path) throws Exception {
    assertError(cistern.get(path), 400, "NAME_INVALID");
  }

  @ParameterizedTest
  @ValueSource(strings = {"/v2/?x=%", "/v2/lib/multi/manifests/latest?ns=%zz", "/v2/lib/tagged/tags/list?n=2&last=%e"})
  void aMalformedQueryIsABadRequestNotAnInternalError(String target) throws Exception {
    // Sent by hand: Java's HTTP client refuses to send such a URI at all.
    try (RawHttpConnection connection = RawHttpConnection.open(cistern.port(), 0)) {
      connection.send("GET", target);
      RawHttpConnection.Head head = connection.readHead();
      assertEquals(400, head.status());
      assertEquals("application/json", head.headers().get("content-type"));
      JsonNode body = JSON.readTree(connection.readUpTo(head.contentLength()));
      assertEquals("UNSUPPORTED", body.at("/errors/0/code").asText());
      assertTrue(body.at("/errors/0/message").asText().contains("query"), body.toString());
    }
  }

  @Test
  void aLayerAskedForAsAManifestIsManifestUnknownWithoutAskingTheUpstream() throws Exception {
    TestImage.Blob layer = arm64.blobs().get(1);
    assertEquals(200, cistern.get("/v2/lib/multi/blobs/" + layer.digest()).statusCode());
    cistern.awaitDownloadsStored();
    // A sparse 3 GiB file stands for a cached layer of gigabytes: it must not be read to find out.
    Digest huge = Digest.sha256Of("a layer of gigabytes".getBytes(StandardCharsets.UTF_8));
    Path file = cistern.cistern().cache().blobs().pathOf(huge);
    Files.createDirectories(file.getParent());
    try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
      sparse.setLength(3L << 30);
    }
    int upstreamRequests = upstream.accessLog().size();

    assertError(cistern.get("/v2/lib/multi/manifests/" + layer.digest()), 404, "MANIFEST_UNKNOWN");
    assertError(cistern.get("/v2/lib/multi/manifests/" + huge), 404, "MANIFEST_UNKNOWN");
    assertEquals(upstreamRequests, upstream.accessLog().size(), "the cache knows these digests name no manifest");
  }

  @Test
  void unknownRoutesAreOciErrors() throws Exception {
    assertError(cistern.get("/v2/a/things/x"), 404, "UNSUPPORTED");
    assertError(cistern.get("/index.html"), 404, "UNSUPPORTED");
  }

  @ParameterizedTest
  @ValueSource(strings = {"POST", "PUT", "PATCH", "DELETE"})
  void pushMethodsAreUnsupported(String method) throws Exception {
    HttpResponse<byte[]> manifest = cistern.send(method, "/v2/lib/multi/manifests/latest");
    assertError(manifest, 405, "UNSUPPORTED");
    assertEquals("GET, HEAD", manifest.headers().firstValue("Allow").orElseThrow());
    assertError(cistern.send(method, "/v2/lib/multi/blobs/uploads/"), 405, "UNSUPPORTED");
  }

  @Test
  void noRequestEverCreatesAFileOutsideTheCache() throws Exception {
    cistern.get("/v2/a/../../escape/manifests/latest");
    cistern.get("/v2/lib/multi/blobs/sha256:../../escape");
    try (Stream<Path> files = Files.walk(temp.resolve("cistern"))) {
      assertFalse(files.anyMatch(file -> file.getFileName().toString().contains("escape")));
    }
    assertFalse(Files.exists(temp.resolve("escape")));
  }

  private static void assertError(HttpResponse<byte[]> response, int status, String code) throws IOException {
    assertEquals(status, response.statusCode(), new String(response.body()));
    assertEquals("application/json", response.headers().firstValue("Content-Type").orElseThrow());
    JsonNode body = JSON.readTree(response.body());
    assertEquals(code, body.get("errors").get(0).get("code").asText());
    assertFalse(body.get("errors").get(0).get("message").asText().isEmpty());
  }

  private static List<String> strings(JsonNode array) {
    return Stream.of(JSON.convertValue(array, String[].class)).toList();
  }
}
