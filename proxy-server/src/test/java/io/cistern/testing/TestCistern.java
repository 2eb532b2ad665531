package io.cistern.testing;

import io.cistern.Cistern;
import io.cistern.Settings;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigLoader;
import io.cistern.oci.Digest;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.UnaryOperator;

/** Starts Cistern in this JVM from a YAML text, on a port the kernel picks. */
public final class TestCistern implements AutoCloseable {

  private final Cistern cistern;
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  private TestCistern(Cistern cistern) {
    this.cistern = cistern;
  }

  /**
   * An upstream Cistern is configured with: the registry's host name, the url it is reached at and
   * the other keys of its entry ({@code mirror: ns}), one {@code key: value} a line, or none.
   */
  public record UpstreamUrl(String host, URI url, String keys) {

    public UpstreamUrl(String host, URI url) {
      this(host, url, "");
    }
  }

  /** A Cistern whose only (default) upstream is {@code upstream}, named {@code upstream.test}. */
  public static TestCistern forUpstream(Path directory, URI upstream) throws IOException, InterruptedException {
    return forUpstreams(directory, Clock.systemUTC(), new UpstreamUrl("upstream.test", upstream));
  }

  /** A Cistern with its cache in {@code directory} and {@code upstreams} alone, the first the default. */
  public static TestCistern forUpstreams(Path directory, Clock clock, UpstreamUrl... upstreams)
      throws IOException, InterruptedException {
    return forUpstreams(directory, clock, "", upstreams);
  }

  /**
   * As {@link #forUpstreams(Path, Clock, UpstreamUrl...)}, with {@code more} configuration: top-level
   * sections other than {@code cache} and {@code upstreams} ({@code security:}, {@code shutdown:}).
   */
  public static TestCistern forUpstreams(Path directory, Clock clock, String more, UpstreamUrl... upstreams)
      throws IOException, InterruptedException {
    StringBuilder yaml = new StringBuilder("cache:\n  directory: ").append(directory.resolve("cache")).append("\nupstreams:\n");
    for (UpstreamUrl upstream : upstreams) {
      yaml.append("  - host: ").append(upstream.host()).append("\n    url: ").append(upstream.url()).append('\n');
      upstream.keys().lines().forEach(key -> yaml.append("    ").append(key).append('\n'));
    }
    return fromYaml(directory, yaml.append(more).toString(), clock);
  }

  public static TestCistern fromYaml(Path directory, String yaml) throws IOException, InterruptedException {
    return fromYaml(directory, yaml, Clock.systemUTC());
  }

  public static TestCistern fromYaml(Path directory, String yaml, Clock clock) throws IOException, InterruptedException {
    return fromYaml(directory, yaml, clock, Map.of());
  }

  /**
   * @param environment what Cistern sees as its environment (passwords, proxies, {@code CISTERN_*}
   *     overrides of the configuration); nothing of the real one
   */
  public static TestCistern fromYaml(Path directory, String yaml, Clock clock, Map<String, String> environment)
      throws IOException, InterruptedException {
    return fromYaml(directory, yaml, clock, environment, UnaryOperator.identity());
  }

  /** @param adjust changes what no configuration key sets (the first retry wait) */
  public static TestCistern fromYaml(Path directory, String yaml, UnaryOperator<Settings> adjust)
      throws IOException, InterruptedException {
    return fromYaml(directory, yaml, Clock.systemUTC(), Map.of(), adjust);
  }

  private static TestCistern fromYaml(Path directory, String yaml, Clock clock, Map<String, String> environment,
      UnaryOperator<Settings> adjust) throws IOException, InterruptedException {
    Files.createDirectories(directory);
    Path file = directory.resolve("cistern.yml");
    Files.writeString(file, "server:\n  address: 127.0.0.1\n  port: 0\nadmin:\n  address: 127.0.0.1\n  port: 0\n" + yaml);
    CisternConfig config = new ConfigLoader().load(file, environment);
    return new TestCistern(Cistern.start(adjust.apply(Settings.of(config)), clock, environment));
  }

  public Cistern cistern() {
    return cistern;
  }

  public int port() {
    return cistern.address().getPort();
  }

  /** {@code 127.0.0.1:PORT}, as skopeo names it. */
  public String hostPort() {
    return "127.0.0.1:" + port();
  }

  public URI url(String path) {
    return URI.create("http://127.0.0.1:" + port() + path);
  }

  public HttpResponse<byte[]> get(String path, String... headers) throws IOException, InterruptedException {
    return send("GET", path, headers);
  }

  public HttpResponse<byte[]> send(String method, String path, String... headers) throws IOException, InterruptedException {
    HttpRequest.Builder request = HttpRequest.newBuilder(url(path)).method(method, HttpRequest.BodyPublishers.noBody());
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofByteArray());
  }

  /**
   * Waits until every download under way has ended for the cache: its blob stored durably (or
   * left out, if that failed). A client has a blob's last byte once the blob is verified, before
   * it is stored: a test that looks at the cache after a pull waits for this first.
   */
  public void awaitDownloadsStored() throws Exception {
    cistern.blobs().downloadsFinished().get(60, TimeUnit.SECONDS);
  }

  /** As {@link #awaitDownloadsStored}, for the downloads of {@code digests} alone: others may be held meanwhile. */
  public void awaitStored(List<Digest> digests) throws Exception {
    CompletableFuture.allOf(digests.stream()
        .map(digest -> cistern.blobs().downloadUnderWay(digest)
            .<CompletableFuture<?>>map(blob -> blob.finished().handle((stored, failure) -> null))
            .orElseGet(() -> CompletableFuture.completedFuture(null)))
        .toArray(CompletableFuture[]::new)).get(60, TimeUnit.SECONDS);
  }

  /** GETs {@code path} from the admin listener (metrics, health). */
  public HttpResponse<String> admin(String path) throws IOException, InterruptedException {
    URI uri = URI.create("http://127.0.0.1:" + cistern.adminAddress().getPort() + path);
    return http.send(HttpRequest.newBuilder(uri).GET().build(), HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() {
    cistern.close();
  }
}
