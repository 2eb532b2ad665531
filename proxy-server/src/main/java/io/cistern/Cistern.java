package io.cistern;

import com.zaxxer.hikari.metrics.MetricsTrackerFactory;
import com.zaxxer.hikari.metrics.micrometer.MicrometerMetricsTrackerFactory;
import io.cistern.admin.AccessLog;
import io.cistern.admin.AdminEndpoint;
import io.cistern.admin.AdminGuard;
import io.cistern.admin.AdminResponse;
import io.cistern.admin.AdminRoutes;
import io.cistern.admin.AdminServer;
import io.cistern.admin.CacheMetrics;
import io.cistern.admin.ClusterMetrics;
import io.cistern.admin.Metrics;
import io.cistern.admin.OperationsApi;
import io.cistern.ops.BundleDirectory;
import io.cistern.admin.Readiness;
import io.cistern.admin.RequestMetrics;
import io.cistern.admin.StatusPage;
import io.cistern.admin.TagRevalidationMetrics;
import io.cistern.admin.UpstreamMetrics;
import io.cistern.auth.ClientAuthenticator;
import io.cistern.auth.Htpasswd;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import io.cistern.cache.SqliteNativeLibrary;
import io.cistern.cluster.Cluster;
import io.cistern.cluster.Member;
import io.cistern.cluster.MemberToken;
import io.cistern.cluster.Membership;
import io.cistern.cluster.BucketPins;
import io.cistern.cluster.SharedBucket;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import io.cistern.config.CredentialSources;
import io.cistern.http.PemPrivateKey;
import io.cistern.http.RegistryApi;
import io.cistern.http.RegistryServer;
import io.cistern.http.RequestListener;
import io.cistern.ops.BlobVerifier;
import io.cistern.ops.CacheOperations;
import io.cistern.ops.Jobs;
import io.cistern.ops.Scrub;
import io.cistern.ops.RateLimitView;
import io.cistern.ops.TrafficView;
import io.cistern.proxy.BlobService;
import io.cistern.proxy.ManifestService;
import io.cistern.proxy.RangeRelay;
import io.cistern.proxy.TagRevalidationObserver;
import io.cistern.proxy.TagService;
import io.cistern.upstream.Credentials;
import io.cistern.upstream.DeferredHttpClient;
import io.cistern.upstream.EnvironmentProxySelector;
import io.cistern.upstream.RegistryClient;
import io.cistern.upstream.RepositoryRules;
import io.cistern.upstream.TagRevalidation;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamObserver;
import io.cistern.upstream.UpstreamRouter;
import io.cistern.upstream.UpstreamSettings;
import io.cistern.upstream.UpstreamTls;
import io.netty.handler.ssl.SslContext;
import io.netty.handler.ssl.SslContextBuilder;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.net.ProxySelector;
import java.net.URI;
import java.net.http.HttpClient;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Function;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The composition root: builds every part of a running Cistern from its settings, and stops them
 * in the reverse order. It builds every thread pool and service the parts share; the listeners
 * ({@link RegistryServer}, {@link AdminServer}) own their event loops, and {@link CacheOperations}
 * the helpers only it uses (warming, bundle export and import).
 */
public final class Cistern implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Cistern.class);

  /** How long a tag whose upstream failed is served stale before the upstream is asked again. */
  private static final Duration STALE_GRACE = Duration.ofSeconds(30);

  /** How long a readiness check may take before {@code /readyz} reports it as failing. */
  private static final Duration READINESS_TIMEOUT = Duration.ofSeconds(5);

  private final Core core;
  private final ExecutorService adminExecutor;
  private final ExecutorService authExecutor;
  private final ExecutorService operatorExecutor;
  private final Duration shutdownGrace;
  private final Metrics metrics;
  private final AccessLog accessLog;
  private final Readiness readiness;
  private final RegistryServer server;
  private final AdminServer admin;
  /** Null when {@code cache.scrub.bytesPerSecond} is 0. */
  private final Scrub scrub;
  private final InetSocketAddress address;
  private final InetSocketAddress adminAddress;

  private Cistern(Settings settings, Clock clock, Map<String, String> environment) throws InterruptedException {
    CisternConfig config = settings.config();
    // What files and the environment hold is read first: a mistake there stops the start with a
    // ConfigException before anything is opened.
    Upstreams upstreams = Upstreams.resolve(settings, environment);
    SslContext tls = serverTls(config.security().tls());
    Htpasswd users = htpasswd(config.security().auth());
    shutdownGrace = config.shutdown().grace();
    metrics = new Metrics();
    RequestMetrics requestMetrics = new RequestMetrics(metrics.registry());
    UpstreamMetrics upstreamMetrics = new UpstreamMetrics(metrics.registry());
    ClusterMetrics clusterMetrics = new ClusterMetrics(metrics.registry());
    SharedPlan shared = SharedPlan.resolve(settings, environment, tls != null);
    try {
      core = new Core(settings.cache(), new MicrometerMetricsTrackerFactory(metrics.registry()), () -> upstreams,
          upstreamMetrics, new TagRevalidationMetrics(metrics.registry()), requestMetrics::traffic,
          upstreamMetrics.rateLimits()::view, clock, threads -> shared.open(threads, clusterMetrics, clock));
    } catch (RuntimeException e) {
      metrics.close();
      throw e;
    }
    // Readiness checks and bcrypt checks each get a pool of their own, off the event loops: a hung
    // disk (store pool) or a flood of wrong passwords (auth pool) cannot starve the probes.
    // Operators' API calls get one too, so a slow listing holds up neither pulls nor probes.
    // Fixed pools start their threads only when first used.
    adminExecutor = Executors.newFixedThreadPool(2, daemonThreads("cistern-admin"));
    authExecutor = Executors.newFixedThreadPool(Runtime.getRuntime().availableProcessors(), daemonThreads("cistern-auth"));
    operatorExecutor = Executors.newFixedThreadPool(2, daemonThreads("cistern-operator"));
    RegistryServer registryServer = null;
    AdminServer adminServer = null;
    Scrub startedScrub = null;
    accessLog = new AccessLog(LoggerFactory.getLogger(AccessLog.LOGGER), settings.accessLogFormat());
    try {
      TagService tags = new TagService(core.cache.tags(), core.storeExecutor);
      RegistryApi api = new RegistryApi(core.router, core.manifests, core.blobs, core.ranges, tags,
          clientAuthenticator(config.security().auth(), users), new MemberToken(shared.token()));
      requestMetrics.countAccessLogDrops(accessLog::dropped);
      RequestListener requests = served -> {
        requestMetrics.served(served);
        accessLog.served(served);
      };
      registryServer = new RegistryServer(api, tls, config.server().idleTimeout(), requests, clock);
      server = registryServer;
      CacheMetrics.bind(metrics.registry(), core.cache.blobs(), core.blobs, server.activeRequests(), core.router.upstreams());
      readiness = new Readiness(Readiness.cacheChecks(core.cache, settings.cache().minFreeBytes()),
          adminExecutor, READINESS_TIMEOUT);
      degradedWhenShared(readiness, core.cluster);
      clusterMetrics.bind(core.cluster.membership(), core.cluster.bucket());
      AdminRoutes routes = new AdminRoutes()
          .get("/metrics", metrics.endpoint())
          .get("/healthz", AdminEndpoint.immediate(request -> AdminResponse.text(200, "ok\n")))
          .get("/readyz", readiness.endpoint());
      BundleDirectory bundles = BundleDirectory.create(config.admin().effectiveBundleDirectory(config.cache().directory()));
      new OperationsApi(core.operations, core.jobs, operatorExecutor, bundles).register(routes);
      adminServer = new AdminServer(StatusPage.register(routes), new AdminGuard(config.admin().token()),
          config.admin().idleTimeout());
      admin = adminServer;
      address = server.start(settings.address());
      adminAddress = admin.start(settings.adminAddress());
      startedScrub = Scrub.start(core.cache.blobs(), new BlobVerifier(core.cache.blobs(), core.cache.catalog(), core.router),
          config.cache().scrub().bytesPerSecond().bytes());
      scrub = startedScrub;
      CacheMetrics.bindIntegrity(metrics.registry(), core.cache.blobs(), scrub);
    } catch (Exception e) {
      // Netty throws BindException (checked) undeclared: whatever failed, give back what was taken.
      if (startedScrub != null) {
        startedScrub.close();
      }
      if (adminServer != null) {
        adminServer.close();
      }
      if (registryServer != null) {
        registryServer.close();
      }
      accessLog.close();
      shutdownServerExecutors();
      core.close();
      metrics.close();
      throw e;
    }
  }

  /**
   * Starts a Cistern: reads what the settings name in files and the environment, opens (and if
   * need be recovers) the cache, then listens.
   *
   * @param environment where upstream passwords ({@code passwordEnv}) and the outbound proxy
   *     ({@code HTTPS_PROXY}, {@code NO_PROXY}) are looked up
   * @throws ConfigException when something the settings name cannot be used, before anything is opened
   */
  public static Cistern start(Settings settings, Clock clock, Map<String, String> environment) throws InterruptedException {
    return new Cistern(settings, clock, environment);
  }

  /**
   * Opens the cache directory and the pull-through services without listening anywhere: what the
   * CLI works with while no server runs. Fails with {@link CacheDirectory.CacheInUseException} when a
   * server (or another command) has the directory open.
   */
  public static Tools openTools(Settings settings, Clock clock, Map<String, String> environment) {
    // The upstreams are resolved once the cache is open: a command that finds it locked by a
    // running server goes through that server's admin API, and needs none of the upstreams' secrets.
    return new Tools(new Core(settings.cache(), null, () -> Upstreams.resolve(settings, environment), UpstreamObserver.NONE,
        TagRevalidationObserver.NONE, () -> null, List::of, clock, threads -> Cluster.NONE));
  }

  /** The cache, its upstreams and its operations, for one CLI command; close it to release the directory. */
  public static final class Tools implements AutoCloseable {

    private final Core core;

    private Tools(Core core) {
      this.core = core;
    }

    public CacheOperations operations() {
      return core.operations;
    }

    /** Runs long operations in the background, as the admin API does, so the CLI follows both alike. */
    public Jobs jobs() {
      return core.jobs;
    }

    @Override
    public void close() {
      core.close();
    }
  }

  public InetSocketAddress address() {
    return address;
  }

  /** Where the admin listener (metrics, health, the status page, the operators' API) is. */
  public InetSocketAddress adminAddress() {
    return adminAddress;
  }

  public CacheDirectory cache() {
    return core.cache;
  }

  public UpstreamRouter router() {
    return core.router;
  }

  public BlobService blobs() {
    return core.blobs;
  }

  public ManifestService manifests() {
    return core.manifests;
  }

  /** The members of this Cistern's cluster and its shared bucket; {@link Cluster#NONE} when it has neither. */
  public Cluster cluster() {
    return core.cluster;
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
    CompletableFuture<Void> settled = CompletableFuture.allOf(server.activeRequests().drained(), core.blobs.downloadsFinished())
        .thenCompose(ignored -> core.cluster.hasBucket() ? core.cluster.bucket().settled() : CompletableFuture.completedFuture(null));
    try {
      settled.get(shutdownGrace.toMillis(), TimeUnit.MILLISECONDS);
    } catch (TimeoutException e) {
      log.warn("stopping with {} requests and {} downloads still under way after {}", server.activeRequests().count(),
          core.blobs.downloadsInFlight(), shutdownGrace);
    } catch (ExecutionException e) {
      log.warn("waiting for the work under way failed; stopping anyway", e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    core.blobs.abortDownloads(new IOException("Cistern is stopping"));
    server.close();
    accessLog.close();
    admin.close();
    shutdownServerExecutors();
    if (scrub != null) {
      scrub.close();
    }
    core.close();
    metrics.close();
  }

  private void shutdownServerExecutors() {
    adminExecutor.shutdownNow();
    authExecutor.shutdownNow();
    operatorExecutor.shutdownNow();
  }

  /**
   * What a server and the CLI's tools share: the thread pools, the cache, the upstreams and the
   * pull-through services over them. Opened in that order, closed in the reverse; whatever fails
   * while opening gives back what was taken before it.
   */
  private static final class Core implements AutoCloseable {

    private final ExecutorService upstreamExecutor = Executors.newCachedThreadPool(daemonThreads("cistern-upstream"));
    private final ExecutorService storeExecutor = Executors.newFixedThreadPool(8, daemonThreads("cistern-store"));
    // Long operator jobs (warm, export, import) have a pool of their own: a running import cannot
    // hold up pulls. Fixed pools start their threads only when first used.
    private final ExecutorService jobExecutor = Executors.newFixedThreadPool(2, daemonThreads("cistern-jobs"));
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(daemonThreads("cistern-timer"));
    private final CacheDirectory cache;
    private final UpstreamRouter router;
    private final Cluster cluster;
    private final BlobService blobs;
    private final RangeRelay ranges;
    private final ManifestService manifests;
    private final CacheOperations operations;
    private final Jobs jobs = new Jobs(jobExecutor);

    /**
     * @param poolMetrics where the metadata database's connection pools report, or null
     * @param upstreams asked for once the cache is open
     * @param observer told about every exchange with an upstream (metrics)
     * @param revalidations told how each revalidation of a cached tag ended (metrics)
     * @param traffic what clients were served, or a supplier of null when no server runs
     * @param rateLimits the rate limits the upstreams reported (none when no server runs)
     * @param cluster opens the cluster's parts on these threads, once the cache is open
     */
    Core(CacheSettings cacheSettings, MetricsTrackerFactory poolMetrics, Supplier<Upstreams> upstreams,
        UpstreamObserver observer, TagRevalidationObserver revalidations, Supplier<TrafficView> traffic,
        Supplier<List<RateLimitView>> rateLimits, Clock clock, Function<SharedPlan.Threads, Cluster> cluster) {
      try {
        // sqlite-jdbc extracts its native library on a JVM's first connection, into the system
        // temp directory unless told otherwise, and a kill -9 leaves that copy there for good: it
        // goes to the cache's own tmp/ instead, cleared of earlier runs' copies on every start.
        // A JVM-wide property, read once per JVM: the first cache opened sets it, and an
        // operator's own -Dorg.sqlite.tmpdir is left alone.
        Path sqliteDirectory = SqliteNativeLibrary.clearStaleCopies(cacheSettings.directory().resolve("tmp"));
        if (System.getProperty(SqliteNativeLibrary.PROPERTY) == null) {
          System.setProperty(SqliteNativeLibrary.PROPERTY, sqliteDirectory.toString());
        }
        cache = CacheDirectory.open(cacheSettings, clock, storeExecutor, poolMetrics);
      } catch (IOException e) {
        shutdownExecutors();
        throw new UncheckedIOException("cannot prepare " + cacheSettings.directory().resolve("tmp"), e);
      } catch (RuntimeException e) {
        shutdownExecutors();
        throw e;
      }
      Cluster opened = null;
      try {
        router = upstreams.get().router(upstreamExecutor, observer, clock);
        opened = cluster.apply(new SharedPlan.Threads(upstreamExecutor, storeExecutor, timer));
        this.cluster = opened;
        blobs = new BlobService(cache.blobs(), storeExecutor, timer, observer, opened);
        ranges = new RangeRelay(blobs, timer, observer);
        manifests = new ManifestService(cache.blobs(), cache.tags(), cache.referrers(), clock, storeExecutor, STALE_GRACE,
            revalidations, opened);
        operations = new CacheOperations(cache, router, manifests, blobs, traffic, rateLimits, clock,
            opened.hasBucket() ? new BucketPins(opened.bucket()) : null);
      } catch (RuntimeException e) {
        SharedPlan.close(opened);
        shutdownExecutors();
        cache.close();
        throw e;
      }
    }

    @Override
    public void close() {
      if (cluster.hasMembers()) {
        cluster.membership().close();
      }
      shutdownExecutors();
      if (cluster.hasBucket()) {
        cluster.bucket().close();
      }
      cache.close();
    }

    private void shutdownExecutors() {
      jobExecutor.shutdownNow();
      upstreamExecutor.shutdownNow();
      timer.shutdownNow();
      // Store tasks are let finish: they write the cache's files and rows, which then close cleanly.
      storeExecutor.shutdown();
      try {
        storeExecutor.awaitTermination(10, TimeUnit.SECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** One upstream with all that files and the environment give it, ready to be connected. */
  private record UpstreamPlan(UpstreamSettings settings, Supplier<SSLContext> tls, Duration tagTtl,
      TagRevalidation tagRevalidation, Duration maxStale, boolean offline, RepositoryRules repositories) {}

  /** The upstreams to build, the proxy they are reached through, the default among them, and their first retry wait. */
  private record Upstreams(List<UpstreamPlan> plans, ProxySelector proxies, String defaultHost, Duration retryBackoff) {

    /** @throws ConfigException when a credential, CA file or proxy the settings name cannot be used */
    static Upstreams resolve(Settings settings, Map<String, String> environment) {
      CisternConfig config = settings.config();
      CredentialSources credentialSources = CredentialSources.load(config.dockerConfig(), environment);
      ProxySelector proxies;
      try {
        proxies = EnvironmentProxySelector.from(environment);
      } catch (IllegalArgumentException e) {
        throw new ConfigException(e.getMessage());
      }
      List<UpstreamPlan> plans = new ArrayList<>();
      for (int i = 0; i < config.upstreams().size(); i++) {
        CisternConfig.UpstreamConfig upstream = config.upstreams().get(i);
        Credentials credentials = credentialSources.forUpstream(upstream).orElse(null);
        // A CA file is read now, so a bad one stops the start; the JDK's own trust store waits
        // for the upstream's first request (DeferredHttpClient), and for a plain-HTTP upstream
        // until a redirect to HTTPS first needs it.
        Supplier<SSLContext> tls;
        if (upstream.caCertificate() == null) {
          tls = settings.upstreams().get(i).url().getScheme().equalsIgnoreCase("http")
              ? UpstreamTls::trustingTheSystemOnFirstUse
              : () -> UpstreamTls.trusting(null);
        } else {
          try {
            SSLContext trusting = UpstreamTls.trusting(upstream.caCertificate());
            tls = () -> trusting;
          } catch (IllegalArgumentException e) {
            throw new ConfigException("upstreams[" + i + "].caCertificate: " + e.getMessage());
          }
        }
        Duration tagTtl = upstream.tagTtl() != null ? upstream.tagTtl() : config.tagTtl();
        TagRevalidation tagRevalidation = upstream.tagRevalidation() != null ? upstream.tagRevalidation() : config.tagRevalidation();
        Duration maxStale = upstream.maxStale() != null ? upstream.maxStale() : config.maxStale();
        plans.add(new UpstreamPlan(settings.upstreams().get(i).withCredentials(credentials), tls, tagTtl,
            tagRevalidation, maxStale, config.offline() || upstream.offline(), upstream.repositoryRules()));
      }
      return new Upstreams(plans, proxies, config.defaultUpstream(), settings.retryBackoff());
    }

    /** @param clock times how long an upstream's url that answered after another failed is remembered */
    UpstreamRouter router(ExecutorService executor, UpstreamObserver observer, Clock clock) {
      List<Upstream> upstreams = new ArrayList<>();
      for (UpstreamPlan plan : plans) {
        UpstreamSettings settings = plan.settings();
        HttpClient http = new DeferredHttpClient(() -> RegistryClient.newHttpClient(settings, executor, plan.tls().get(), proxies));
        upstreams.add(new Upstream(new RegistryClient(settings, http, executor, retryBackoff, observer, clock), plan.tagTtl(),
            plan.tagRevalidation(), plan.maxStale(), plan.offline(), plan.repositories()));
        log.info("mirroring {} from {}{}", settings.host(), String.join(", then ", settings.urls().stream().map(URI::toString).toList()),
            settings.credentials() != null ? " as " + settings.credentials().username() : " anonymously");
      }
      return new UpstreamRouter(upstreams, defaultHost);
    }
  }

  /** {@code /readyz} names what the cluster does without, while staying ready. */
  private static void degradedWhenShared(Readiness readiness, Cluster cluster) {
    if (cluster.hasBucket()) {
      SharedBucket bucket = cluster.bucket();
      readiness.degradedWhen("bucket", () -> {
        String reason = bucket.unreachableReason();
        return reason == null ? null : "unreachable: " + reason + "; the cluster is degraded: pulls are served from the"
            + " local tier, the members and the upstream, and nothing is uploaded";
      });
    }
    if (cluster.hasMembers()) {
      Membership membership = cluster.membership();
      readiness.degradedWhen("members", () -> {
        List<Member> known = membership.known();
        List<Member> live = membership.live();
        if (live.size() == known.size()) {
          return null;
        }
        List<Member> down = known.stream().filter(member -> !live.contains(member)).toList();
        return (known.size() - live.size()) + " of " + known.size() + " down (" + down
            + "): their blobs and repositories go to the next members in order";
      });
    }
  }

  /** The users of {@code security.auth.htpasswd}, or null when none is configured. */
  private static Htpasswd htpasswd(CisternConfig.ClientAuth auth) {
    if (auth.htpasswd() == null) {
      return null;
    }
    try {
      return Htpasswd.read(auth.htpasswd());
    } catch (IOException e) {
      throw new ConfigException("cannot read security.auth.htpasswd " + auth.htpasswd() + ": " + e.getMessage());
    } catch (IllegalArgumentException e) {
      throw new ConfigException("security.auth.htpasswd: " + e.getMessage());
    }
  }

  private ClientAuthenticator clientAuthenticator(CisternConfig.ClientAuth auth, Htpasswd users) {
    if (users == null && (auth.bearerToken() == null || auth.bearerToken().isEmpty())) {
      return ClientAuthenticator.anonymous();
    }
    return new ClientAuthenticator(auth.realm(), users, auth.bearerToken(), authExecutor);
  }

  /** The registry port's TLS from PEM files, or null for plain HTTP; {@link Settings} saw both are named. */
  private static SslContext serverTls(CisternConfig.Tls tls) {
    if (!tls.enabled()) {
      return null;
    }
    try (InputStream certificates = Files.newInputStream(tls.certificate())) {
      String key = PemPrivateKey.asPkcs8(Files.readString(tls.key(), StandardCharsets.ISO_8859_1));
      return SslContextBuilder.forServer(certificates, new ByteArrayInputStream(key.getBytes(StandardCharsets.US_ASCII)))
          .build();
    } catch (IOException | IllegalArgumentException e) {
      throw new ConfigException("cannot use the TLS certificate " + tls.certificate() + " and key " + tls.key()
          + ": " + e.getMessage());
    }
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
