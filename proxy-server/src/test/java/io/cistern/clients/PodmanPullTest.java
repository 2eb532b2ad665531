package io.cistern.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CountingRelay;
import io.cistern.testing.FallbackTrap;
import io.cistern.testing.Podman;
import io.cistern.testing.RealClientRig;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCistern.UpstreamUrl;
import io.cistern.testing.TestImage;
import java.nio.file.Path;
import java.time.Clock;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * Real podman pulls through Cistern with the two {@code registries.conf} mirror forms: for
 * {@code docker.io} a plain {@code 127.0.0.1:PORT} (no hint: Cistern's default upstream), for
 * {@code ghcr.io} the path-prefix form {@code 127.0.0.1:PORT/ghcr.io}. Both registries are real
 * Distributions holding different images under one name, behind {@link CountingRelay}s; each
 * registry's own {@code location} is a {@link FallbackTrap}. Skipped where podman is not installed
 * or the tests do not run as root.
 */
@Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class PodmanPullTest {

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream hub = new RealUpstream();

  @RegisterExtension
  static final RealUpstream ghcr = new RealUpstream();

  @RegisterExtension
  static final RealClientRig rig = new RealClientRig(Podman::unavailable);

  private static final TestImage small = TestImage.unpackable(211, 2, 6_000, "amd64");
  private static final TestImage onHub = TestImage.unpackable(212, 1, 6_000, "amd64");
  private static final TestImage onGhcr = TestImage.unpackable(213, 1, 6_000, "amd64");

  private static CountingRelay toHub;
  private static CountingRelay toGhcr;
  private static Podman podman;

  @BeforeAll
  static void start() throws Exception {
    if (!rig.usable()) {
      return;
    }
    hub.push("library/small", "1", small);
    hub.push("team/app", "1.0", onHub);
    ghcr.push("team/app", "1.0", onGhcr);
    toHub = rig.closeAfterAll(CountingRelay.to(hub.port()));
    toGhcr = rig.closeAfterAll(CountingRelay.to(ghcr.port()));
    TestCistern cistern = rig.closeAfterAll(TestCistern.forUpstreams(temp.resolve("cistern"), Clock.systemUTC(),
        new UpstreamUrl("docker.io", toHub.url()), new UpstreamUrl("ghcr.io", toGhcr.url())));
    podman = Podman.in(temp.resolve("p"), """
        [[registry]]
        prefix = "docker.io"
        location = "%1$s"
        [[registry.mirror]]
        location = "%2$s"
        insecure = true

        [[registry]]
        prefix = "ghcr.io"
        location = "%1$s"
        [[registry.mirror]]
        location = "%2$s/ghcr.io"
        insecure = true
        """.formatted(rig.trap().hostPort(), cistern.hostPort()));
  }

  @BeforeEach
  void coldClient() {
    podman.removeAllImages();
  }

  @Test
  void aMirrorWithoutAPrefixServesDockerHub() {
    podman.pull("docker.io/library/small:1").orFail();
    podman.pull("docker.io/team/app:1.0").orFail();

    assertEquals(small.digest().toString(), podman.digest("docker.io/library/small:1"));
    assertEquals(onHub.digest().toString(), podman.digest("docker.io/team/app:1.0"));
    assertTrue(toHub.count("GET", "/v2/library/small/manifests/1"::equals) >= 1);
    assertEquals(0, rig.trap().connections(), "no pull went around Cistern");
  }

  @Test
  void aPathPrefixMirrorServesItsRegistryByTagAndByDigest() {
    podman.pull("ghcr.io/team/app:1.0").orFail();
    podman.pull("ghcr.io/team/app@" + onGhcr.digest()).orFail();

    assertEquals(onGhcr.digest().toString(), podman.digest("ghcr.io/team/app:1.0"), "ghcr.io's team/app, not Docker Hub's");
    assertTrue(toGhcr.count("GET", "/v2/team/app/manifests/1.0"::equals) >= 1);
    assertEquals(1, toGhcr.count("GET", ("/v2/team/app/blobs/" + onGhcr.blobs().get(1).digest())::equals));
    assertEquals(0, rig.trap().connections(), "no pull went around Cistern");
  }
}
