package io.cistern;

import io.cistern.cache.BlobCache;
import io.cistern.cache.CacheSettings;
import io.cistern.config.CisternConfig;
import io.cistern.config.CredentialSources;
import io.cistern.http.RegistryApi;
import io.cistern.http.RegistryServer;
import io.cistern.proxy.BlobService;
import io.cistern.proxy.ManifestService;
import io.cistern.proxy.TagService;
import io.cistern.upstream.Credentials;
import io.cistern.upstream.EnvironmentProxySelector;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamRouter;
import io.cistern.upstream.UpstreamSettings;
import io.cistern.upstream.UpstreamTls;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds every part of a running Cistern from its configuration, and stops
 * them in the reverse order. Nothing else constructs services or thread pools.
 */
public final class Cistern implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Cistern.class);

  /** How long a tag whose upstream failed is served stale before the upstream is asked again. */
  private static final Duration STALE_GRACE = Duration.ofSeconds(30);
  private static final Duration RETRY_BACKOFF = Duration.ofMillis(200);

  private final ExecutorService upstreamExecutor;
  private final ExecutorService storeExecutor;
  private final ScheduledExecutorService timer;
  private final BlobCache cache;
  private final UpstreamRouter router;
  private final BlobService blobs;
  private final RegistryServer server;
  private final InetSocketAddress address;

  private Cistern(CisternConfig config, Clock clock, Map<String, String> environment) throws InterruptedException {
    upstreamExecutor = Executors.newCachedThreadPool(daemonThreads("cistern-upstream"));
    storeExecutor = Executors.newFixedThreadPool(8, daemonThreads("cistern-store"));
    timer = Executors.newSingleThreadScheduledExecutor(daemonThreads("cistern-timer"));
    CisternConfig.Cache cacheConfig = config.cache();
    cache = BlobCache.open(new CacheSettings(cacheConfig.directory(), cacheConfig.maxBytes().bytes(),
        cacheConfig.lowWaterFraction(), cacheConfig.accessFlushInterval(), cacheConfig.reservationTimeout(),
        cacheConfig.poolSize()), clock);
    try {
      router = new UpstreamRouter(upstreams(config, environment), config.defaultUpstream());
      blobs = new BlobService(cache, storeExecutor, timer);
      ManifestService manifests = new ManifestService(cache, clock, storeExecutor, STALE_GRACE);
      TagService tags = new TagService(cache, storeExecutor);
      server = new RegistryServer(new RegistryApi(router, manifests, blobs, tags), null, 0);
      address = server.start(new InetSocketAddress(config.server().address(), config.server().port()));
    } catch (RuntimeException | InterruptedException e) {
      cache.close();
      throw e;
    }
  }

  /**
   * Starts a Cistern: opens (and if need be recovers) the cache, then listens.
   *
   * @param environment where upstream passwords ({@code passwordEnv}) and the outbound proxy
   *     ({@code HTTPS_PROXY}, {@code NO_PROXY}) are looked up
   */
  public static Cistern start(CisternConfig config, Clock clock, Map<String, String> environment) throws InterruptedException {
    return new Cistern(config, clock, environment);
  }

  private List<Upstream> upstreams(CisternConfig config, Map<String, String> environment) {
    CredentialSources credentialSources = CredentialSources.load(config.dockerConfig(), environment);
    ProxySelector proxies = EnvironmentProxySelector.from(environment);
    List<Upstream> upstreams = new ArrayList<>();
    for (CisternConfig.UpstreamConfig upstream : config.upstreams()) {
      UpstreamSettings defaults = UpstreamSettings.of(upstream.host(), upstream.effectiveUrl(), null);
      Credentials credentials = credentialSources.forUpstream(upstream).orElse(null);
      UpstreamSettings settings = new UpstreamSettings(
          upstream.host(),
          upstream.effectiveUrl(),
          credentials,
          orDefault(upstream.connectTimeout(), defaults.connectTimeout()),
          orDefault(upstream.responseTimeout(), defaults.responseTimeout()),
          orDefault(upstream.idleTimeout(), defaults.idleTimeout()),
          upstream.maxRetries() != null ? upstream.maxRetries() : defaults.maxRetries(),
          upstream.maxConcurrentRequests() != null ? upstream.maxConcurrentRequests() : defaults.maxConcurrentRequests());
      HttpClient http = RegistryClient.newHttpClient(
          settings, upstreamExecutor, UpstreamTls.trusting(upstream.caCertificate()), proxies);
      RegistryClient client = new RegistryClient(settings, http, upstreamExecutor, RETRY_BACKOFF);
      Duration tagTtl = orDefault(upstream.tagTtl(), config.tagTtl());
      upstreams.add(new Upstream(client, tagTtl, config.offline() || upstream.offline()));
      log.info("mirroring {} from {}{}", settings.host(), settings.url(),
          credentials != null ? " as " + credentials.username() : " anonymously");
    }
    return upstreams;
  }

  public InetSocketAddress address() {
    return address;
  }

  public BlobCache cache() {
    return cache;
  }

  public UpstreamRouter router() {
    return router;
  }

  public BlobService blobs() {
    return blobs;
  }

  /** Stops accepting, lets the event loops wind down, then closes the cache cleanly. */
  @Override
  public void close() {
    server.close();
    upstreamExecutor.shutdownNow();
    timer.shutdownNow();
    storeExecutor.shutdown();
    try {
      storeExecutor.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    cache.close();
  }

  private static <T> T orDefault(T value, T fallback) {
    return value != null ? value : fallback;
  }

  private static ThreadFactory daemonThreads(String prefix) {
    AtomicInteger count = new AtomicInteger();
    return runnable -> {
      Thread thread = new Thread(runnable, prefix + "-" + count.incrementAndGet());
      thread.setDaemon(true);
      return thread;
    };
  }
}
