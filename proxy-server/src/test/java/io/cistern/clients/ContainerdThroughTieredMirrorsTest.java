package io.cistern.clients;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.Containerd;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.FallbackTrap;
import io.cistern.testing.MutableClock;
import io.cistern.testing.RealClientRig;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestCistern.UpstreamUrl;
import io.cistern.testing.TestImage;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Optional;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Kubernetes node path, tiered: a real containerd ({@code ctr images pull --hosts-dir}, as the
 * CRI pulls) whose {@code hosts.toml} for {@code docker.io} and {@code ghcr.io} names a node
 * Cistern, whose upstreams for both are one site Cistern ({@code mirror: ns}), in front of two real
 * Distribution registries holding different images under the same names. Each {@code hosts.toml}'s
 * {@code server} is a {@link FallbackTrap}, so a pull that went around the caches fails and is seen.
 * Skipped where containerd is not installed or the tests do not run as root.
 */
@Timeout(value = 300, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class ContainerdThroughTieredMirrorsTest {

  @TempDir
  static Path temp;

  @RegisterExtension
  static final RealUpstream hub = new RealUpstream();

  @RegisterExtension
  static final RealUpstream ghcr = new RealUpstream();

  @RegisterExtension
  static final RealClientRig rig = new RealClientRig(Containerd::unavailable);

  private static final TestImage small = TestImage.unpackable(181, 1, 4_000, "amd64");
  private static final TestImage onHub = TestImage.unpackable(182, 2, 8_000, "amd64");
  private static final TestImage onGhcr = TestImage.unpackable(183, 2, 8_000, "amd64");
  private static final TestImage cached = TestImage.unpackable(184, 1, 8_000, "amd64");
  private static final MutableClock clock = new MutableClock(Instant.parse("2026-06-01T00:00:00Z"));

  private static TestCistern site;
  private static CountingRelay toSite;
  private static Containerd containerd;
  private static Path hosts;

  @BeforeAll
  static void start() throws Exception {
    if (!rig.usable()) {
      return;
    }
    hub.push("library/small", "1", small);
    hub.push("team/app", "1.0", onHub);
    ghcr.push("team/app", "1.0", onGhcr);
    ghcr.push("team/cached", "1.0", cached);
    site = rig.closeAfterAll(TestCistern.forUpstreams(temp.resolve("site"), clock,
        new UpstreamUrl("docker.io", hub.url()), new UpstreamUrl("ghcr.io", ghcr.url())));
    toSite = rig.closeAfterAll(CountingRelay.to(site.port()));
    TestCistern node = rig.closeAfterAll(node("node", toSite));
    hosts = hostsFor(node, "hosts");
    containerd = rig.startDaemon(() -> Containerd.start(temp.resolve("c")));
  }

  @BeforeEach
  void coldClient() {
    containerd.removeAllImages();
  }

  @Test
  void pullsByTagAndByDigestFromSeveralRegistriesThroughNodeAndSite() {
    containerd.pull("docker.io/library/small:1", hosts).orFail();
    containerd.pull("docker.io/team/app:1.0", hosts).orFail();
    containerd.pull("ghcr.io/team/app:1.0", hosts).orFail();
    containerd.pull("ghcr.io/team/app@" + onGhcr.digest(), hosts).orFail();

    assertEquals(Optional.of(small.digest().toString()), containerd.imageDigest("docker.io/library/small:1"));
    assertEquals(Optional.of(onHub.digest().toString()), containerd.imageDigest("docker.io/team/app:1.0"));
    assertEquals(Optional.of(onGhcr.digest().toString()), containerd.imageDigest("ghcr.io/team/app:1.0"),
        "the same name at another registry is another image");
    assertEquals(Optional.of(onGhcr.digest().toString()), containerd.imageDigest("ghcr.io/team/app@" + onGhcr.digest()));
    List<String> asked = toSite.requests().stream().map(CountingRelay.Request::target).toList();
    assertTrue(asked.contains("/v2/library/small/manifests/1?ns=docker.io"), asked.toString());
    assertTrue(asked.contains("/v2/team/app/manifests/1.0?ns=docker.io"), asked.toString());
    assertTrue(asked.contains("/v2/team/app/manifests/1.0?ns=ghcr.io"), asked.toString());
    assertTrue(asked.contains("/v2/team/app/blobs/" + onGhcr.blobs().get(1).digest() + "?ns=ghcr.io"), asked.toString());
    assertEquals(0, rig.trap().connections(), "no pull went around the caches");
  }

  @Test
  void withTheRegistryDownATagAndADigestStillPullFromWhatTheNodeAndTheSiteCached() throws Exception {
    containerd.pull("ghcr.io/team/cached:1.0", hosts).orFail();
    ghcr.stop();
    try {
      clock.advance(Duration.ofHours(1)); // the tag is stale at node and site; ghcr.io cannot be asked
      containerd.removeAllImages();
      containerd.pull("ghcr.io/team/cached:1.0", hosts).orFail();
      assertEquals(Optional.of(cached.digest().toString()), containerd.imageDigest("ghcr.io/team/cached:1.0"));

      try (CountingRelay toSiteAgain = CountingRelay.to(site.port()); TestCistern newNode = node("new-node", toSiteAgain)) {
        Path newHosts = hostsFor(newNode, "new-hosts");
        containerd.removeAllImages();
        containerd.pull("ghcr.io/team/cached:1.0", newHosts).orFail();
        containerd.pull("ghcr.io/team/cached@" + cached.digest(), newHosts).orFail();
        assertEquals(Optional.of(cached.digest().toString()), containerd.imageDigest("ghcr.io/team/cached:1.0"),
            "a node that never had it: from the site's cache");
        assertTrue(toSiteAgain.count("GET", "/v2/team/cached/manifests/1.0"::equals) >= 1);
      }
    } finally {
      ghcr.restart();
    }
    assertEquals(0, rig.trap().connections(), "no pull went around the caches");
  }

  /** A node Cistern whose docker.io and ghcr.io are the site, reached through {@code relay}. */
  private static TestCistern node(String name, CountingRelay relay) throws Exception {
    return TestCistern.fromYaml(temp.resolve(name), """
        cache:
          directory: %1$s
        shutdown:
          grace: 0s
        upstreams:
          - host: docker.io
            url: %2$s
            mirror: ns
            maxRetries: 1
          - host: ghcr.io
            url: %2$s
            mirror: ns
            maxRetries: 1
        """.formatted(temp.resolve(name).resolve("cache"), relay.url()), clock);
  }

  /** containerd's certs.d for {@code node}: both registries through it, the trap as their server. */
  private static Path hostsFor(TestCistern node, String name) throws Exception {
    Path directory = Files.createDirectories(temp.resolve(name));
    for (String registry : List.of("docker.io", "ghcr.io")) {
      Containerd.writeHostsToml(directory, registry, "http://" + node.hostPort(), "http://" + rig.trap().hostPort());
    }
    return directory;
  }
}
