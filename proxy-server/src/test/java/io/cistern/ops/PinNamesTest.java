package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.ImageCatalog;
import io.cistern.testing.CisternCli;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCistern.UpstreamUrl;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A pin is recorded under the name it was made by: unpinning a tag unpins the image pinned under
 * it, even after the upstream moved the tag and Cistern followed, and after a restart; unpinning a
 * tag or a digest nothing pins says so, and unpins nothing.
 */
class PinNamesTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String REPOSITORY = "team/pins";
  private static final TestImage first = TestImage.random(91, 2, 20_000, "amd64");
  private static final TestImage moved = TestImage.random(92, 2, 20_000, "amd64");

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private final HttpClient http = HttpClient.newHttpClient();
  private final MutableClock clock = new MutableClock(Instant.now());

  @TempDir
  Path temp;

  @Test
  void unpinningATagThatMovedUnpinsTheImagePinnedUnderIt() throws Exception {
    String image = "upstream.test/" + REPOSITORY + ":moving";
    upstream.push(REPOSITORY, "moving", first);
    try (TestCistern cistern = start()) {
      pull(cistern, "moving", first);
      assertEquals(200, post(cistern, "/api/pin", image).statusCode());
      moveTag(cistern, "moving");

      JsonNode unpinned = unpin(cistern, image);

      assertNothingPinned(cistern.cistern().cache().catalog());
      assertEquals(first.digest().toString(), unpinned.get("digest").asText(),
          "the answer names the image pinned under the tag, not the one the tag names now");
      assertFalse(unpinned.get("pinned").asBoolean());
    }
  }

  @Test
  void aTagPurgedAfterItMovedStillUnpinsTheImagePinnedUnderIt() throws Exception {
    String image = "upstream.test/" + REPOSITORY + ":purged";
    upstream.push(REPOSITORY, "purged", first);
    try (TestCistern cistern = start()) {
      pull(cistern, "purged", first);
      assertEquals(200, post(cistern, "/api/pin", image).statusCode());
      moveTag(cistern, "purged");
      HttpResponse<String> purged = post(cistern, "/api/purge", image);
      assertEquals(200, purged.statusCode(), "the tag names an unpinned image now: " + purged.body());

      JsonNode unpinned = unpin(cistern, image);

      assertNothingPinned(cistern.cistern().cache().catalog());
      assertEquals(first.digest().toString(), unpinned.get("digest").asText());
    }
  }

  @Test
  void aPinKeepsItsNameAcrossARestart() throws Exception {
    String image = "upstream.test/" + REPOSITORY + ":restarted";
    upstream.push(REPOSITORY, "restarted", first);
    try (TestCistern cistern = start()) {
      pull(cistern, "restarted", first);
      assertEquals(200, post(cistern, "/api/pin", image).statusCode());
    }
    try (TestCistern cistern = start()) {
      assertTrue(cistern.cistern().cache().catalog().isPinnedImage(first.digest()));
      moveTag(cistern, "restarted");

      JsonNode unpinned = unpin(cistern, image);

      assertNothingPinned(cistern.cistern().cache().catalog());
      assertEquals(first.digest().toString(), unpinned.get("digest").asText());
    }
  }

  @Test
  void anImagePinnedUnderTwoTagsStaysPinnedUntilBothGoOrItsDigestIsUnpinned() throws Exception {
    String name = "upstream.test/" + REPOSITORY;
    upstream.push(REPOSITORY, "one", first);
    upstream.push(REPOSITORY, "two", first);
    try (TestCistern cistern = start()) {
      pull(cistern, "one", first);
      pull(cistern, "two", first);
      ImageCatalog catalog = cistern.cistern().cache().catalog();
      CisternCli cli = CisternCli.forCache(temp.resolve("cli.yml"), temp.resolve("cache"),
          cistern.cistern().adminAddress().getPort(), upstreams());
      cli.run("pin", name + ":one").orFail();
      cli.run("pin", name + ":two").orFail();

      String out = cli.run("unpin", name + ":one").orFail().out();

      assertTrue(out.startsWith("unpinned " + name + ":one (" + first.digest() + ")"), out);
      assertTrue(out.contains("still pinned under another name"), out);
      assertTrue(catalog.isPinnedImage(first.digest()), "the other tag's pin holds it");
      String byDigest = cli.run("unpin", name + "@" + first.digest()).orFail().out();
      assertFalse(byDigest.contains("still pinned"), byDigest);
      assertNothingPinned(catalog);
      // The image is unpinned either way; only the tag's unpin can tell whether its name was taken too.
      CisternCli.Run two = cli.run("unpin", name + ":two");
      assertEquals(1, two.exitCode(), "the digest's unpin took every name: " + two);
      assertTrue(two.err().startsWith("cistern unpin: nothing is pinned under " + name + ":two"), two.err());
    }
  }

  @Test
  void unpinningATagNothingIsPinnedUnderSaysSoAndUnpinsNothing() throws Exception {
    String name = "upstream.test/" + REPOSITORY;
    upstream.push(REPOSITORY, "never", first);
    try (TestCistern cistern = start()) {
      pull(cistern, "never", first);
      ImageCatalog catalog = cistern.cistern().cache().catalog();

      HttpResponse<String> refused = post(cistern, "/api/unpin", name + ":never");

      assertEquals(404, refused.statusCode(), "not found, as for any name an operation finds nothing under: "
          + refused.body());
      assertEquals("nothing is pinned under " + name + ":never, so nothing was unpinned", error(refused));

      CisternCli cli = CisternCli.forCache(temp.resolve("cli.yml"), temp.resolve("cache"),
          cistern.cistern().adminAddress().getPort(), upstreams());
      cli.run("pin", name + "@" + first.digest()).orFail();
      CisternCli.Run unpinned = cli.run("unpin", name + ":never");

      assertEquals(1, unpinned.exitCode(), "a failed operation: " + unpinned);
      assertEquals("", unpinned.out(), "no line says an image was unpinned");
      assertTrue(unpinned.err().startsWith("cistern unpin: nothing is pinned under " + name + ":never, so nothing"
          + " was unpinned; the image it names, " + first.digest() + ", is pinned under another name"), unpinned.err());
      assertTrue(catalog.isPinnedImage(first.digest()), "the pin by digest stays");

      HttpResponse<String> uncached = post(cistern, "/api/unpin", name + ":absent");
      assertEquals(404, uncached.statusCode(), uncached.body());
      assertEquals("nothing is pinned under " + name + ":absent, so nothing was unpinned", error(uncached),
          "a tag never cached here may still have been pinned: the answer is about pins");
    }
  }

  @Test
  void unpinningADigestNothingPinsSaysSoAndUnpinsNothing() throws Exception {
    String byDigest = "upstream.test/" + REPOSITORY + "@" + first.digest();
    upstream.push(REPOSITORY, "unpinned", first);
    try (TestCistern cistern = start()) {
      pull(cistern, "unpinned", first);

      HttpResponse<String> refused = post(cistern, "/api/unpin", byDigest);

      assertEquals(404, refused.statusCode(), "as for a tag nothing is pinned under: " + refused.body());
      assertEquals("nothing pins " + byDigest + ", so nothing was unpinned", error(refused));
      CisternCli cli = CisternCli.forCache(temp.resolve("cli.yml"), temp.resolve("cache"),
          cistern.cistern().adminAddress().getPort(), upstreams());
      CisternCli.Run unpinned = cli.run("unpin", byDigest);
      assertEquals(1, unpinned.exitCode(), "a failed operation: " + unpinned);
      assertEquals("", unpinned.out(), "no line says an image was unpinned");
      assertTrue(unpinned.err().startsWith("cistern unpin: nothing pins " + byDigest + ", so nothing was unpinned"),
          unpinned.err());
    }
  }

  @Test
  void anImportPinsItsImagesUnderTheirTags() throws Exception {
    String image = "upstream.test/" + REPOSITORY + ":imported";
    upstream.push(REPOSITORY, "imported", first);
    Path bundle = temp.resolve("bundle.tar");
    CisternCli exporting = CisternCli.forCache(temp.resolve("exporting.yml"), temp.resolve("exporting"), 1, upstreams());
    exporting.run("warm", image).orFail();
    exporting.run("export", "--out", bundle.toString(), image).orFail();
    CisternCli.forCache(temp.resolve("cli.yml"), temp.resolve("cache"), 1, upstreams())
        .run("import", "--pin", bundle.toString()).orFail();
    try (TestCistern cistern = start()) {
      moveTag(cistern, "imported");

      JsonNode unpinned = unpin(cistern, image);

      assertNothingPinned(cistern.cistern().cache().catalog());
      assertEquals(first.digest().toString(), unpinned.get("digest").asText());
    }
  }

  private TestCistern start() throws Exception {
    // Blocking revalidation: the pull past the TTL is answered with the moved tag.
    return TestCistern.forUpstreams(temp, clock,
        new UpstreamUrl("upstream.test", upstream.url(), "tagTtl: 1m\ntagRevalidation: blocking"));
  }

  private static String upstreams() {
    return "upstreams:\n  - host: upstream.test\n    url: " + upstream.url();
  }

  /** The upstream moves {@code tag} to {@link #moved}, and Cistern follows it past the tag's TTL. */
  private void moveTag(TestCistern cistern, String tag) throws Exception {
    upstream.push(REPOSITORY, tag, moved);
    clock.advance(Duration.ofMinutes(2));
    pull(cistern, tag, moved);
  }

  private static void assertNothingPinned(ImageCatalog catalog) {
    assertFalse(catalog.isPinnedImage(first.digest()), "the image pinned under the tag is unpinned");
    assertFalse(catalog.isPinnedImage(moved.digest()));
    assertEquals(0, catalog.pinned().blobs(), "no blob or manifest stays pinned");
  }

  private static void pull(TestCistern cistern, String tag, TestImage image) throws Exception {
    HttpResponse<byte[]> manifest = cistern.get("/v2/" + REPOSITORY + "/manifests/" + tag);
    assertEquals(200, manifest.statusCode());
    assertArrayEquals(image.manifest().bytes(), manifest.body(), "the manifest the tag names at the upstream");
    for (TestImage.Blob blob : image.blobs()) {
      assertEquals(200, cistern.get("/v2/" + REPOSITORY + "/blobs/" + blob.digest()).statusCode());
    }
    cistern.awaitDownloadsStored();
  }

  private JsonNode unpin(TestCistern cistern, String image) throws Exception {
    HttpResponse<String> unpinned = post(cistern, "/api/unpin", image);
    assertEquals(200, unpinned.statusCode(), unpinned.body());
    return JSON.readTree(unpinned.body());
  }

  private static String error(HttpResponse<String> refused) throws Exception {
    return JSON.readTree(refused.body()).get("error").asText();
  }

  private HttpResponse<String> post(TestCistern cistern, String path, String image) throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + cistern.cistern().adminAddress().getPort() + path);
    return http.send(HttpRequest.newBuilder(uri).header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofString("{\"image\":\"" + image + "\"}")).build(),
        HttpResponse.BodyHandlers.ofString());
  }
}
