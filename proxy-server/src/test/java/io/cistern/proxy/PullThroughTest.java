package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.testing.OciLayout;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The foundation, end to end with real programs: images pushed by skopeo into a real CNCF
 * Distribution, pulled by skopeo through Cistern, then pulled again with the upstream stopped.
 */
class PullThroughTest {

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  private static TestCistern cistern;
  private static Skopeo skopeo;
  private static final TestImage image = TestImage.random(1, 3, 150_000, "amd64");
  private static final TestImage index = TestImage.index(List.of("amd64", "arm64"),
      List.of(TestImage.random(2, 2, 80_000, "amd64"), TestImage.random(3, 2, 80_000, "arm64")));

  @BeforeAll
  static void startRegistries() throws Exception {
    skopeo = new Skopeo(temp.resolve("skopeo"));
    Path layout = OciLayout.write(temp.resolve("layout"), Map.of("1.0", image, "multi", index));
    skopeo.push(layout, "1.0", upstream.hostPort(), "team/app", false);
    skopeo.push(layout, "multi", upstream.hostPort(), "team/multi", true);
    cistern = TestCistern.forUpstream(temp.resolve("cistern"), upstream.url());
  }

  @AfterAll
  static void stop() {
    cistern.close();
  }

  @Test
  void skopeoPullsAnImageThroughCisternAndItLandsInTheCache() throws Exception {
    Path out = temp.resolve("pulled");
    skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/team/app:1.0", "dir:" + out);
    cistern.awaitDownloadsStored();

    assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")),
        "the manifest is served byte-exact");
    for (TestImage.Blob blob : image.blobs()) {
      assertEquals(blob.digest(), Digest.sha256Of(Files.readAllBytes(out.resolve(blob.digest().hex()))));
      assertTrue(Files.isRegularFile(cachePath(blob.digest())), "blob stored at blobs/sha256/<2>/<hex>");
    }
    assertTrue(Files.isRegularFile(cachePath(image.digest())), "the manifest is stored as a blob too");
  }

  @Test
  void aMultiPlatformIndexPullsWithAllItsPlatforms() throws Exception {
    Path out = temp.resolve("pulled-all");
    skopeo.copy("--all", "--src-tls-verify=false", "docker://" + cistern.hostPort() + "/team/multi:multi", "dir:" + out);
    cistern.awaitDownloadsStored();

    assertArrayEquals(index.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
    for (TestImage.Blob blob : index.allContent()) {
      assertTrue(Files.isRegularFile(cachePath(blob.digest())), "cached: " + blob.digest());
    }
  }

  @Test
  void withTheUpstreamGoneTheSameImageStillPullsByDigestFromTheCache() throws Exception {
    skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/team/app:1.0", "dir:" + temp.resolve("warm"));
    upstream.stop();
    try {
      Path out = temp.resolve("offline");
      skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/team/app@" + image.digest(), "dir:" + out);
      assertArrayEquals(image.manifest().bytes(), Files.readAllBytes(out.resolve("manifest.json")));
      for (TestImage.Blob blob : image.blobs()) {
        assertArrayEquals(blob.bytes(), Files.readAllBytes(out.resolve(blob.digest().hex())));
      }
    } finally {
      upstream.restart();
    }
  }

  private Path cachePath(Digest digest) {
    return temp.resolve("cistern/cache/blobs/sha256").resolve(digest.hex().substring(0, 2)).resolve(digest.hex());
  }
}
