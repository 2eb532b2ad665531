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
import io.cistern.admin.AccessLog;
import io.cistern.admin.AdminEndpoint;
import io.cistern.admin.AdminGuard;
import io.cistern.admin.AdminResponse;
import io.cistern.admin.AdminRoutes;
import io.cistern.admin.AdminServer;
import io.cistern.admin.CacheMetrics;
import io.cistern.admin.Metrics;
import io.cistern.admin.OperationsApi;
import io.cistern.admin.StatusPage;
import io.cistern.ops.BundleDirectory;
import io.cistern.ops.CacheOperations;
import io.cistern.ops.Jobs;
import io.cistern.admin.Readiness;
import io.cistern.admin.RequestMetrics;
import io.cistern.admin.UpstreamMetrics;
import io.cistern.auth.ClientAuthenticator;
import io.cistern.auth.Htpasswd;
import io.cistern.config.ConfigException;
import io.cistern.http.RequestListener;
import io.cistern.upstream.UpstreamObserver;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.IOException;
import io.cistern.upstream.UpstreamTls;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.http.HttpClient;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import javax.net.ssl.SSLException;
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

  /** How long a readiness check may take before {@code /readyz} reports it as failing. */
  private static final Duration READINESS_TIMEOUT = Duration.ofSeconds(5);

  private final ExecutorService upstreamExecutor;
  private final ExecutorService storeExecutor;
  private final ExecutorService adminExecutor;
  private final ExecutorService authExecutor;
  private final ExecutorService operatorExecutor;
  private final ExecutorService jobExecutor;
  private final ScheduledExecutorService timer;
  private final Duration shutdownGrace;
  private final Metrics metrics;
  private final BlobCache cache;
  private final UpstreamRouter router;
  private final BlobService blobs;
  private final CacheOperations operations;
  private final Readiness readiness;
  private final RegistryServer server;
  private final AdminServer admin;
  private final InetSocketAddress address;
  private final InetSocketAddress adminAddress;

  private Cistern(CisternConfig config, Clock clock, Map<String, String> environment) throws InterruptedException {
    upstreamExecutor = Executors.newCachedThreadPool(daemonThreads("cistern-upstream"));
    storeExecutor = Executors.newFixedThreadPool(8, daemonThreads("cistern-store"));
    // Readiness checks and bcrypt checks each get a pool of their own, off the event loops: a hung
    // disk (store pool) or a flood of wrong passwords (auth pool) cannot starve the probes.
    // Fixed pools start their threads only when first used.
    adminExecutor = Executors.newFixedThreadPool(2, daemonThreads("cistern-admin"));
    authExecutor = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors(), daemonThreads("cistern-auth"));
    timer = Executors.newSingleThreadScheduledExecutor(daemonThreads("cistern-timer"));
    // Operators' API calls and their long jobs (warm, export, import) have pools of their own:
    // a running import cannot hold up a stats call, and neither competes with pulls or probes.
    operatorExecutor = Executors.newFixedThreadPool(2, daemonThreads("cistern-operator"));
    jobExecutor = Executors.newFixedThreadPool(2, daemonThreads("cistern-jobs"));
    shutdownGrace = config.shutdown().grace();
    cache = BlobCache.open(cacheSettings(config.cache()), clock, storeExecutor);
    metrics = new Metrics();
    RegistryServer registryServer = null;
    AdminServer adminServer = null;
    try {
      router = new UpstreamRouter(upstreams(config, environment, new UpstreamMetrics(metrics.registry()), upstreamExecutor),
          config.defaultUpstream());
      blobs = new BlobService(cache, storeExecutor, timer);
      ManifestService manifests = new ManifestService(cache, clock, storeExecutor, STALE_GRACE);
      TagService tags = new TagService(cache, storeExecutor);
      RegistryApi api = new RegistryApi(router, manifests, blobs, tags, clientAuthenticator(config.security().auth()));
      AccessLog accessLog = new AccessLog(LoggerFactory.getLogger(AccessLog.LOGGER),
          AccessLog.Format.parse(config.log().access().format()));
      RequestMetrics requestMetrics = new RequestMetrics(metrics.registry());
      operations = new CacheOperations(cache, router, manifests, blobs, requestMetrics::traffic, clock);
      RequestListener requests = served -> {
        requestMetrics.served(served);
        accessLog.served(served);
      };
      registryServer = new RegistryServer(api, serverTls(config.security().tls()), 0, requests, clock);
      server = registryServer;
      CacheMetrics.bind(metrics.registry(), cache, blobs, server.activeRequests(), router.upstreams());
      readiness = new Readiness(Readiness.cacheChecks(cache, config.admin().minFreeDisk().bytes()),
          adminExecutor, READINESS_TIMEOUT);
      AdminRoutes routes = new AdminRoutes()
          .get("/metrics", metrics.endpoint())
          .get("/healthz", AdminEndpoint.immediate(request -> AdminResponse.text(200, "ok\n")))
          .get("/readyz", readiness.endpoint());
      BundleDirectory bundles = BundleDirectory.create(config.admin().effectiveBundleDirectory(config.cache().directory()));
      new OperationsApi(operations, new Jobs(jobExecutor), operatorExecutor, bundles).register(routes);
      adminServer = new AdminServer(StatusPage.register(routes), new AdminGuard(config.admin().token()),
          config.admin().idleTimeout());
      admin = adminServer;
      address = server.start(new InetSocketAddress(config.server().address(), config.server().port()));
      adminAddress = admin.start(new InetSocketAddress(config.admin().address(), config.admin().port()));
    } catch (Exception e) {
      // Netty throws BindException (checked) undeclared: whatever failed, give back what was taken.
      if (adminServer != null) {
        adminServer.close();
      }
      if (registryServer != null) {
        registryServer.close();
      }
      shutdownExecutors();
      cache.close();
      metrics.close();
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

  /**
   * Opens the cache directory and the pull-through services without listening anywhere: what the
   * CLI works with while no server runs. Fails with {@link BlobCache.CacheInUseException} when a
   * server (or another command) has the directory open.
   */
  public static Tools openTools(CisternConfig config, Clock clock, Map<String, String> environment) {
    return new Tools(config, clock, environment);
  }

  /** The cache, its upstreams and its operations, for one CLI command; close it to release the directory. */
  public static final class Tools implements AutoCloseable {

    private final ExecutorService upstreamExecutor = Executors.newCachedThreadPool(daemonThreads("cistern-upstream"));
    private final ExecutorService storeExecutor = Executors.newFixedThreadPool(4, daemonThreads("cistern-store"));
    private final ExecutorService jobExecutor = Executors.newSingleThreadExecutor(daemonThreads("cistern-jobs"));
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(daemonThreads("cistern-timer"));
    private final BlobCache cache;
    private final CacheOperations operations;
    private final Jobs jobs = new Jobs(jobExecutor);

    private Tools(CisternConfig config, Clock clock, Map<String, String> environment) {
      try {
        cache = BlobCache.open(cacheSettings(config.cache()), clock, storeExecutor);
      } catch (RuntimeException e) {
        shutdown();
        throw e;
      }
      try {
        UpstreamRouter router = new UpstreamRouter(upstreams(config, environment, UpstreamObserver.NONE, upstreamExecutor),
            config.defaultUpstream());
        BlobService blobs = new BlobService(cache, storeExecutor, timer);
        ManifestService manifests = new ManifestService(cache, clock, storeExecutor, STALE_GRACE);
        operations = new CacheOperations(cache, router, manifests, blobs, () -> null, clock);
      } catch (RuntimeException e) {
        close();
        throw e;
      }
    }

    public CacheOperations operations() {
      return operations;
    }

    /** Runs long operations in the background, as the admin API does, so the CLI follows both alike. */
    public Jobs jobs() {
      return jobs;
    }

    @Override
    public void close() {
      shutdown();
      if (cache != null) {
        cache.close();
      }
    }

    private void shutdown() {
      jobExecutor.shutdownNow();
      upstreamExecutor.shutdownNow();
      timer.shutdownNow();
      storeExecutor.shutdown();
      try {
        storeExecutor.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static CacheSettings cacheSettings(CisternConfig.Cache cacheConfig) {
    return new CacheSettings(cacheConfig.directory(), cacheConfig.maxBytes().bytes(), cacheConfig.lowWaterFraction(),
        cacheConfig.accessFlushInterval(), cacheConfig.reservationTimeout(), cacheConfig.poolSize());
  }

  private static List<Upstream> upstreams(CisternConfig config, Map<String, String> environment,
      UpstreamObserver observer, ExecutorService upstreamExecutor) {
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
      RegistryClient client = new RegistryClient(settings, http, upstreamExecutor, RETRY_BACKOFF, observer);
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

  /** Where the admin listener (metrics, health, the status page, the operators' API) is. */
  public InetSocketAddress adminAddress() {
    return adminAddress;
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

  /** What the admin API's operations run on. */
  public CacheOperations operations() {
    return operations;
  }

  /**
   * Stops gracefully: {@code /readyz} fails at once (so load balancers move on), the registry port
   * stops accepting, requests and downloads under way get up to the shutdown grace to finish,
   * whatever is left is aborted (temp files deleted, clients cut rather than handed a short body),
   * and the cache closes, flushing access times and marking a clean stop.
   */
  @Override
  public void close() {
    readiness.stopping();
    server.stopAccepting();
    CompletableFuture<Void> settled = CompletableFuture.allOf(server.activeRequests().drained(), blobs.downloadsFinished());
    try {
      settled.get(shutdownGrace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      log.warn("stopping with {} requests and {} downloads still under way after {}", server.activeRequests().count(),
          blobs.downloadsInFlight(), shutdownGrace);
    } catch (ExecutionException e) {
      log.warn("waiting for the work under way failed; stopping anyway", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    blobs.abortDownloads(new IOException("Cistern is stopping"));
    server.close();
    admin.close();
    shutdownExecutors();
    cache.close();
    metrics.close();
  }

  private void shutdownExecutors() {
    upstreamExecutor.shutdownNow();
    timer.shutdownNow();
    adminExecutor.shutdownNow();
    authExecutor.shutdownNow();
    operatorExecutor.shutdownNow();
    jobExecutor.shutdownNow();
    storeExecutor.shutdown();
    try {
      storeExecutor.awaitTermination(10, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  private ClientAuthenticator clientAuthenticator(CisternConfig.ClientAuth auth) {
    if (auth.htpasswd() == null && (auth.bearerToken() == null || auth.bearerToken().isEmpty())) {
      return ClientAuthenticator.anonymous();
    }
    Htpasswd users = null;
    if (auth.htpasswd() != null) {
      try {
        users = Htpasswd.read(auth.htpasswd());
      } catch (IOException e) {
        throw new ConfigException("cannot read security.auth.htpasswd " + auth.htpasswd() + ": " + e.getMessage());
      } catch (IllegalArgumentException e) {
        throw new ConfigException(e.getMessage());
      }
    }
    return new ClientAuthenticator(auth.realm(), users, auth.bearerToken(), authExecutor);
  }

  /** The registry port's TLS from PEM files, or null for plain HTTP. */
  private static SslContext serverTls(CisternConfig.Tls tls) {
    if (!tls.enabled()) {
      return null;
    }
    if (tls.certificate() == null || tls.key() == null) {
      throw new ConfigException("security.tls needs both certificate and key");
    }
    try {
      return SslContextBuilder.forServer(tls.certificate().toFile(), tls.key().toFile()).build();
    } catch (SSLException | IllegalArgumentException e) {
      throw new ConfigException("cannot use the TLS certificate " + tls.certificate() + " and key " + tls.key()
          + ": " + e.getMessage());
    }
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
