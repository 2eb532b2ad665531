package io.cistern.testing;

import io.cistern.oci.RepositoryName;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.RepositoryRules;
import io.cistern.upstream.TagRevalidation;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamRouter.Route;
import io.cistern.upstream.UpstreamObserver;
import io.cistern.upstream.UpstreamSettings;
import java.net.URI;
import java.net.http.HttpClient;
import java.time.Duration;

/**
 * Routes for unit tests of the pull-through services that stand in for the upstream themselves:
 * the route names an upstream and repository, and its client points at a closed loopback port,
 * so a request that reached it by mistake would fail at once rather than leave the machine.
 */
public final class TestRoutes {

  private static final HttpClient HTTP = HttpClient.newHttpClient();

  private TestRoutes() {}

  /** A route to {@code repository} at the upstream called {@code host}. */
  public static Route route(String host, String repository) {
    RegistryClient client = new RegistryClient(UpstreamSettings.of(host, URI.create("http://127.0.0.1:9"), null),
        HTTP, Runnable::run, Duration.ZERO, UpstreamObserver.NONE);
    return new Route(new Upstream(client, Duration.ofMinutes(5), TagRevalidation.BACKGROUND, Duration.ofHours(24), false,
        RepositoryRules.NONE), RepositoryName.of(repository));
  }
}
