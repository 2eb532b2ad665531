package io.cistern.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CountingRelay;
import io.cistern.testing.Dockerd;
import io.cistern.testing.FallbackTrap;
import io.cistern.testing.RealClientRig;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCistern.UpstreamUrl;
import io.cistern.testing.TestImage;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * A real docker daemon ({@link Dockerd}: private, vfs, no iptables) whose {@code registry-mirrors}
 * is Cistern, whose {@code docker.io} is a real Distribution behind a {@link CountingRelay}. The
 * daemon's way round a failed mirror ({@code registry-1.docker.io}) leads into a
 * {@link FallbackTrap}. Skipped where dockerd is not installed or the tests do not run as root.
 */
@Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class DockerdPullTest {

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream hub = new RealUpstream();

  @RegisterExtension
  static final RealClientRig rig = new RealClientRig(Dockerd::unavailable);

  private static final TestImage small = TestImage.unpackable(201, 2, 6_000, "amd64");
  private static final TestImage app = TestImage.unpackable(202, 1, 6_000, "amd64");

  private static CountingRelay relay;
  private static Dockerd dockerd;

  @BeforeAll
  static void start() throws Exception {
    if (!rig.usable()) {
      return;
    }
    hub.push("library/small", "1", small);
    hub.push("team/app", "1.0", app);
    relay = rig.closeAfterAll(CountingRelay.to(hub.port()));
    TestCistern cistern = rig.closeAfterAll(TestCistern.forUpstreams(temp.resolve("cistern"), Clock.systemUTC(),
        new UpstreamUrl("docker.io", relay.url())));
    dockerd = rig.startDaemon(() -> Dockerd.start(temp.resolve("d"), "http://" + cistern.hostPort(), rig.trap().hostPort()));
  }

  @BeforeEach
  void coldClient() {
    dockerd.removeAllImages();
  }

  @Test
  void anOfficialImagePullsByTagThroughCisternAndAgainFromItsCache() {
    dockerd.pull("small:1").orFail();
    assertRepoDigest("small:1", "small@" + small.digest());
    assertTrue(relay.count("GET", "/v2/library/small/manifests/1"::equals) >= 1, "asked as library/small");
    String layer = "/v2/library/small/blobs/" + small.blobs().get(1).digest();
    assertEquals(1, relay.count("GET", layer::equals));

    dockerd.removeAllImages();
    dockerd.pull("small:1").orFail();
    assertRepoDigest("small:1", "small@" + small.digest());
    assertEquals(1, relay.count("GET", layer::equals), "the second pull's layers came from Cistern's cache");
    assertEquals(0, rig.trap().connections(), "no pull went around Cistern");
  }

  @Test
  void anImagePullsByDigestThroughCistern() {
    dockerd.pull("team/app@" + app.digest()).orFail();
    assertRepoDigest("team/app@" + app.digest(), "team/app@" + app.digest());
    assertTrue(relay.count("GET", ("/v2/team/app/manifests/" + app.digest())::equals) >= 1);
    assertEquals(0, rig.trap().connections(), "no pull went around Cistern");
  }

  private static void assertRepoDigest(String reference, String expected) {
    List<String> digests = dockerd.repoDigests(reference);
    assertTrue(digests.contains(expected), () -> expected + " among " + digests);
  }
}
