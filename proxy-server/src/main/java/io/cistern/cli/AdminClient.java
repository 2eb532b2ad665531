package io.cistern.cli;

import com.fasterxml.jackson.core.type.TypeReference;
import com.fasterxml.jackson.databind.DeserializationFeature;
import com.fasterxml.jackson.databind.JavaType;
import com.fasterxml.jackson.databind.ObjectReader;
import io.cistern.oci.Json;
import io.cistern.ops.ImageView;
import io.cistern.ops.JobView;
import io.cistern.ops.OperationException;
import io.cistern.ops.OperatorRequests.ExportRequest;
import io.cistern.ops.OperatorRequests.Failure;
import io.cistern.ops.OperatorRequests.ImageRequest;
import io.cistern.ops.OperatorRequests.ImportRequest;
import io.cistern.ops.OperatorRequests.JobStarted;
import io.cistern.ops.OperatorRequests.PurgeRequest;
import io.cistern.ops.OperatorRequests.VerifyRequest;
import io.cistern.ops.OperatorRequests.WarmRequest;
import io.cistern.ops.PinView;
import io.cistern.ops.PurgeView;
import io.cistern.ops.StatsView;
import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

/**
 * A running server's admin API ({@code /api/…}): used when the server has the cache directory
 * open, so that its process stays the one writer of the SQLite file. It sends the admin token of
 * the same configuration ({@code admin.token}, {@code CISTERN_ADMIN_TOKEN}) when there is one.
 * The API reads and writes bundles only in its bundle directory, by name: a bundle given here
 * must be a file directly in that directory.
 */
final class AdminClient implements CacheClient {

  /** Tolerates fields a newer server adds to its answers. */
  private static final ObjectReader ANSWERS = Json.reader().without(DeserializationFeature.FAIL_ON_UNKNOWN_PROPERTIES);
  private static final Duration TIMEOUT = Duration.ofMinutes(5);

  private final URI base;
  private final String token;
  private final Path bundleDirectory;
  private final HttpClient http = HttpClient.newBuilder()
      .version(HttpClient.Version.HTTP_1_1)
      .connectTimeout(Duration.ofSeconds(10))
      .build();

  /**
   * @param base {@code http://host:port} of the admin listener
   * @param token the admin token, or null (or empty) when none is configured
   * @param bundleDirectory the server's {@code admin.bundleDirectory}
   */
  AdminClient(URI base, String token, Path bundleDirectory) {
    this.base = base;
    this.token = token;
    this.bundleDirectory = bundleDirectory.toAbsolutePath().normalize();
  }

  /** The admin listener's URL from its configured address; a wildcard address means this machine. */
  static URI baseFor(String address, int port) {
    String host = switch (address) {
      case "0.0.0.0", "" -> "127.0.0.1";
      case "::", "[::]", "::0" -> "[::1]";
      default -> address.contains(":") && !address.startsWith("[") ? "[" + address + "]" : address;
    };
    return URI.create("http://" + host + ":" + port);
  }

  @Override
  public String description() {
    return "the running server's admin API at " + base;
  }

  @Override
  public List<ImageView> images(String repository, int limit) {
    String query = "?limit=" + limit + (repository == null ? "" : "&repository=" + URLEncoder.encode(repository, StandardCharsets.UTF_8));
    return get("/api/images" + query, ANSWERS.getTypeFactory().constructType(new TypeReference<List<ImageView>>() {}));
  }

  @Override
  public StatsView stats() {
    return get("/api/stats", ANSWERS.getTypeFactory().constructType(StatsView.class));
  }

  @Override
  public PinView pin(String image) {
    return post("/api/pin", new ImageRequest(image), PinView.class);
  }

  @Override
  public PinView unpin(String image) {
    return post("/api/unpin", new ImageRequest(image), PinView.class);
  }

  @Override
  public PurgeView purge(String image) {
    return post("/api/purge", new PurgeRequest(image, null), PurgeView.class);
  }

  @Override
  public PurgeView purgeOlderThan(String age) {
    return post("/api/purge", new PurgeRequest(null, age), PurgeView.class);
  }

  @Override
  public long warm(List<String> images, List<String> platforms) {
    return post("/api/warm", new WarmRequest(images, platforms), JobStarted.class).id();
  }

  @Override
  public long export(Path out, List<String> images) {
    return post("/api/export", new ExportRequest(bundleName(out), images), JobStarted.class).id();
  }

  @Override
  public long importBundle(Path file, boolean pin) {
    return post("/api/import", new ImportRequest(bundleName(file), pin), JobStarted.class).id();
  }

  @Override
  public long verify(boolean repair) {
    return post("/api/verify", new VerifyRequest(repair), JobStarted.class).id();
  }

  /** The name the API knows {@code file} by: it must be directly in the bundle directory. */
  private String bundleName(Path file) {
    Path absolute = file.toAbsolutePath().normalize();
    if (!bundleDirectory.equals(absolute.getParent())) {
      throw new OperationException(400, "a server has the cache open, and its admin API reads and writes bundles only"
          + " in admin.bundleDirectory, " + bundleDirectory + ": name a file there (" + bundleDirectory.resolve("site.tar")
          + "), and move or copy it from or to where you need it");
    }
    return absolute.getFileName().toString();
  }

  @Override
  public JobView job(long id) {
    return get("/api/jobs?id=" + id, ANSWERS.getTypeFactory().constructType(JobView.class));
  }

  private <T> T get(String path, JavaType type) {
    return send(HttpRequest.newBuilder(base.resolve(path)).GET(), type);
  }

  private <T> T post(String path, Object body, Class<T> type) {
    return send(HttpRequest.newBuilder(base.resolve(path))
        .header("Content-Type", "application/json")
        .POST(HttpRequest.BodyPublishers.ofByteArray(Json.bytes(body))), ANSWERS.getTypeFactory().constructType(type));
  }

  private <T> T send(HttpRequest.Builder request, JavaType type) {
    if (token != null && !token.isEmpty()) {
      request.header("Authorization", "Bearer " + token);
    }
    HttpResponse<byte[]> response;
    try {
      response = http.send(request.timeout(TIMEOUT).build(), HttpResponse.BodyHandlers.ofByteArray());
    } catch (IOException e) {
      throw new OperationException(503, "a server has the cache open, but its admin API at " + base
          + " does not answer (" + e + "); is admin.address/admin.port the same in its configuration?");
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new OperationException(503, "interrupted");
    }
    try {
      if (response.statusCode() >= 300) {
        String error = new String(response.body(), StandardCharsets.UTF_8);
        try {
          error = ANSWERS.readValue(response.body(), Failure.class).error();
        } catch (IOException notJson) {
          // An older server without this endpoint: show what it said.
        }
        throw new OperationException(response.statusCode(), error);
      }
      return ANSWERS.forType(type).readValue(response.body());
    } catch (IOException e) {
      throw new OperationException(502, "the admin API answered something unreadable: " + e.getMessage());
    }
  }

  @Override
  public void close() {
    // The JDK client's connections close with it when it is collected; nothing is held here.
  }
}
