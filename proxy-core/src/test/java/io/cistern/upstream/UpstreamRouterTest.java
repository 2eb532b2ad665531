package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.ForkJoinPool;
import org.junit.jupiter.api.Test;

class UpstreamRouterTest {

  /** Never used to send anything: routing only reads the upstreams' settings. */
  private static final HttpClient UNUSED = HttpClient.newHttpClient();

  private static final Upstream DOCKER_HUB = upstream("docker.io", "https://registry-1.docker.io");
  private static final Upstream GHCR = upstream("ghcr.io", "https://ghcr.io");
  private static final Upstream PRIVATE = upstream("registry.corp:5000", "https://registry.corp:5000");
  private static final UpstreamRouter router = new UpstreamRouter(List.of(DOCKER_HUB, GHCR, PRIVATE), "docker.io");

  private static Upstream upstream(String host, String url) {
    return upstream(host, url, RepositoryRules.NONE);
  }

  private static Upstream upstream(String host, String url, RepositoryRules repositories) {
    UpstreamSettings settings = UpstreamSettings.of(host, URI.create(url), null);
    return new Upstream(new RegistryClient(settings, UNUSED, ForkJoinPool.commonPool(), Duration.ofMillis(1),
        UpstreamObserver.NONE), Duration.ofMinutes(5), TagRevalidation.BACKGROUND, Duration.ofHours(24), false, repositories);
  }

  @Test
  void theNsParameterChoosesTheUpstreamAndLeavesTheNameAlone() {
    UpstreamRouter.Route route = router.route("org/app", "ghcr.io");
    assertSame(GHCR, route.upstream());
    assertEquals("org/app", route.repository().value());
    assertSame(PRIVATE, router.route("team/app", "REGISTRY.corp:5000").upstream(), "host names compare case-insensitively");
  }

  @Test
  void aPathPrefixNamingAnUpstreamChoosesItAndIsStripped() {
    UpstreamRouter.Route route = router.route("ghcr.io/org/app", null);
    assertSame(GHCR, route.upstream());
    assertEquals("org/app", route.repository().value());
    assertEquals("team/app", router.route("registry.corp:5000/team/app", null).repository().value());
  }

  @Test
  void noHintMeansTheDefaultUpstreamWithDockerHubsLibraryPrefix() {
    UpstreamRouter.Route official = router.route("alpine", null);
    assertSame(DOCKER_HUB, official.upstream());
    assertEquals("library/alpine", official.repository().value());
    assertEquals("bitnami/redis", router.route("bitnami/redis", null).repository().value());
    assertEquals("library/alpine", router.route("docker.io/alpine", null).repository().value(), "also after a prefix");
    assertEquals("library/alpine", router.route("alpine", "docker.io").repository().value(), "and with ns");
  }

  @Test
  void dockerHubIsKnownWhateverTheCaseItWasConfiguredIn() {
    Upstream mixedCase = upstream("Docker.IO", "https://registry-1.docker.io");
    assertEquals("docker.io", mixedCase.host(), "host names are lower-cased once, as configured");
    UpstreamRouter.Route official = new UpstreamRouter(List.of(mixedCase), null).route("alpine", null);
    assertEquals("library/alpine", official.repository().value());
  }

  @Test
  void otherUpstreamsKeepSingleComponentNames() {
    assertEquals("app", router.route("ghcr.io/app", null).repository().value());
  }

  @Test
  void anUnknownNsIsRefused() {
    RegistryException error = assertThrows(RegistryException.class, () -> router.route("org/app", "evil.example"));
    assertEquals(ErrorCode.NAME_UNKNOWN, error.code());
    assertTrue(error.getMessage().contains("evil.example"), error.getMessage());
  }

  @Test
  void aFirstComponentThatIsAHostNameButNoUpstreamIsRefused() {
    for (String name : List.of("quay.io/org/app", "localhost/app", "127.0.0.1:5000/app", "other.corp:5000/team/app")) {
      RegistryException error = assertThrows(RegistryException.class, () -> router.route(name, null), name);
      assertEquals(ErrorCode.NAME_UNKNOWN, error.code(), name);
    }
  }

  @Test
  void aFirstComponentThatIsNoHostNameIsPartOfTheDefaultUpstreamsName() {
    UpstreamRouter.Route route = router.route("library/alpine", null);
    assertSame(DOCKER_HUB, route.upstream());
    assertEquals("library/alpine", route.repository().value());
  }

  @Test
  void theFirstUpstreamIsTheDefaultWhenNoneIsNamed() {
    UpstreamRouter firstIsDefault = new UpstreamRouter(List.of(GHCR, DOCKER_HUB), null);
    assertSame(GHCR, firstIsDefault.route("org/app", null).upstream());
  }

  @Test
  void misconfigurationsAreRefusedAtStartUp() {
    assertThrows(IllegalArgumentException.class, () -> new UpstreamRouter(List.of(GHCR, GHCR), null));
    assertThrows(IllegalArgumentException.class, () -> new UpstreamRouter(List.of(GHCR), "quay.io"));
    assertThrows(IllegalArgumentException.class, () -> UpstreamRouter.check(List.of("ghcr.io", "quay.io", "ghcr.io"), null));
    assertEquals(1, UpstreamRouter.check(List.of("ghcr.io", "docker.io"), "Docker.io"), "the default, by its index");
    assertEquals(-1, UpstreamRouter.check(List.of(), null), "no upstream, no default");
    RegistryException none = assertThrows(RegistryException.class, () -> new UpstreamRouter(List.of(), null).route("a/b", null));
    assertEquals(ErrorCode.NAME_UNKNOWN, none.code());
  }

  @Test
  void badNamesAreNameInvalidWhateverTheUpstream() {
    assertEquals(ErrorCode.NAME_INVALID, assertThrows(RegistryException.class, () -> router.route("ghcr.io/Org/App", null)).code());
  }

  @Test
  void repositoryRulesAreAppliedToTheNameAsTheUpstreamIsAskedForItAfterRouting() {
    RepositoryRules officialOnly = new RepositoryRules(List.of(RepositoryGlob.parse("library/*")), List.of());
    UpstreamRouter ruled = new UpstreamRouter(List.of(upstream("docker.io", "https://registry-1.docker.io", officialOnly),
        upstream("ghcr.io", "https://ghcr.io", new RepositoryRules(null, List.of(RepositoryGlob.parse("**/private"))))), null);

    assertEquals("library/alpine", ruled.route("alpine", null).repository().value(), "alpine is library/alpine, allowed");
    RegistryException denied = assertThrows(RegistryException.class, () -> ruled.route("someone/alpine", null));
    assertEquals(ErrorCode.DENIED, denied.code());
    assertEquals(403, denied.status());
    assertEquals("docker.io/someone/alpine is not served by this cache: it matches no glob of repositories.allow"
        + " of upstream docker.io", denied.getMessage());

    assertEquals("org/app", ruled.route("ghcr.io/org/app", null).repository().value(), "ghcr.io has its own rules");
    for (String[] request : new String[][] {{"ghcr.io/org/private", null}, {"org/team/private", "ghcr.io"}}) {
      RegistryException refused = assertThrows(RegistryException.class, () -> ruled.route(request[0], request[1]));
      assertEquals(ErrorCode.DENIED, refused.code(), request[0]);
      assertTrue(refused.getMessage().contains("matches repositories.deny '**/private'"), refused.getMessage());
    }
    assertEquals("org/private", ruled.routeIgnoringRules("ghcr.io/org/private", null).repository().value(),
        "what is cached can still be found, to be listed or purged");
    assertEquals(ErrorCode.NAME_UNKNOWN, assertThrows(RegistryException.class, () -> ruled.route("quay.io/org/private", null))
        .code(), "an unknown upstream stays unknown");
  }
}
