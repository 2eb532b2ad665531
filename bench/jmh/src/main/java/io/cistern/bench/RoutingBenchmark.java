package io.cistern.bench;

import io.cistern.http.RegistryRoute;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.RepositoryRules;
import io.cistern.upstream.TagRevalidation;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamObserver;
import io.cistern.upstream.UpstreamRouter;
import io.cistern.upstream.UpstreamSettings;
import io.cistern.upstream.UpstreamTls;
import java.net.ProxySelector;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.Mode;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/**
 * Routing a request: the path to an endpoint, then the name to an upstream and repository, in the
 * three ways mirror clients name an upstream. Twelve upstreams are configured, as a site mirroring
 * many registries would; no request leaves the process.
 */
@State(Scope.Benchmark)
@BenchmarkMode(Mode.AverageTime)
@OutputTimeUnit(TimeUnit.NANOSECONDS)
@Warmup(iterations = 3, time = 1)
@Measurement(iterations = 5, time = 1)
@Fork(1)
public class RoutingBenchmark {

  private UpstreamRouter router;

  @Setup
  public void configure() {
    Executor direct = Runnable::run;
    List<Upstream> upstreams = new ArrayList<>();
    List<String> hosts = new ArrayList<>(List.of("docker.io", "ghcr.io", "quay.io", "registry.k8s.io"));
    for (int i = 0; i < 8; i++) {
      hosts.add("registry" + i + ".corp.example");
    }
    for (String host : hosts) {
      UpstreamSettings settings = UpstreamSettings.of(host, URI.create("https://" + host), null);
      RegistryClient client = new RegistryClient(settings,
          RegistryClient.newHttpClient(settings, direct, UpstreamTls.trusting(null), ProxySelector.of(null)), direct,
          Duration.ofMillis(200), UpstreamObserver.NONE);
      upstreams.add(new Upstream(client, Duration.ofMinutes(5), TagRevalidation.BACKGROUND, Duration.ofHours(24), false,
          RepositoryRules.NONE));
    }
    router = new UpstreamRouter(upstreams, "docker.io");
  }

  @Benchmark
  public UpstreamRouter.Route byNamespaceParameter() {
    RegistryRoute.Manifest route = (RegistryRoute.Manifest) RegistryRoute.parse("/v2/kube-proxy/manifests/v1.31.2");
    return router.route(route.name(), "registry.k8s.io");
  }

  @Benchmark
  public UpstreamRouter.Route byPathPrefix() {
    RegistryRoute.Blob route = (RegistryRoute.Blob) RegistryRoute.parse(
        "/v2/ghcr.io/org/app/blobs/sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    return router.route(route.name(), null);
  }

  @Benchmark
  public UpstreamRouter.Route dockerHubDefault() {
    RegistryRoute.Manifest route = (RegistryRoute.Manifest) RegistryRoute.parse("/v2/alpine/manifests/3.20");
    return router.route(route.name(), null);
  }
}
