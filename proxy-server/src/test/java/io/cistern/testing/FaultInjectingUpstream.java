package io.cistern.testing;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import io.cistern.oci.Digest;
import io.cistern.oci.ReferrersIndex;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;

/**
 * A hand-made registry for what a real Distribution cannot be made to do: answer 429 (with
 * {@code Retry-After}) or 503 on demand, and serve the OCI referrers API (Distribution 2.8 lacks
 * it). Otherwise it serves the manifests and blobs of the images it is given, as a registry would.
 */
public final class FaultInjectingUpstream implements AutoCloseable {

  /** One injected failure: a status and the {@code Retry-After} to send with it (or null). */
  private record Fault(int status, String retryAfter) {}

  private final HttpServer server;
  private final ExecutorService executor = Executors.newCachedThreadPool();
  private final Map<String, TestImage.Blob> content = new ConcurrentHashMap<>();
  private final Map<String, List<ReferrersIndex>> referrerPages = new ConcurrentHashMap<>();
  private final Queue<Fault> faults = new ConcurrentLinkedQueue<>();
  private final List<String> requests = new CopyOnWriteArrayList<>();
  private volatile Fault permanentFault;

  private FaultInjectingUpstream() throws IOException {
    server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 100);
    server.setExecutor(executor);
    server.createContext("/v2/", this::answer);
    server.start();
  }

  public static FaultInjectingUpstream start() throws IOException {
    return new FaultInjectingUpstream();
  }

  public URI url() {
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  /** Serves {@code image} (and everything in it) under {@code repository:tag} and by digest. */
  public void serve(String repository, String tag, TestImage image) {
    for (TestImage child : image.children()) {
      serve(repository, child.digest().toString(), child);
    }
    for (TestImage.Blob blob : image.blobs()) {
      content.put("/v2/" + repository + "/blobs/" + blob.digest(), blob);
    }
    content.put("/v2/" + repository + "/manifests/" + tag, image.manifest());
    content.put("/v2/" + repository + "/manifests/" + image.digest(), image.manifest());
  }

  /** Answers the referrers API for {@code subject} with these pages, linked by {@code Link} headers. */
  public void serveReferrers(String repository, Digest subject, List<ReferrersIndex> pages) {
    referrerPages.put("/v2/" + repository + "/referrers/" + subject, List.copyOf(pages));
  }

  /** The next {@code count} requests fail with {@code status}, sending {@code retryAfter} if not null. */
  public void failNext(int count, int status, String retryAfter) {
    for (int i = 0; i < count; i++) {
      faults.add(new Fault(status, retryAfter));
    }
  }

  /** Every request fails with {@code status} from now on. */
  public void failAlways(int status, String retryAfter) {
    permanentFault = new Fault(status, retryAfter);
  }

  public void heal() {
    permanentFault = null;
    faults.clear();
  }

  /** Requests so far, as {@code "GET /v2/…"} (the query left out). */
  public List<String> requests() {
    return List.copyOf(requests);
  }

  public long count(String methodAndPath) {
    return requests.stream().filter(methodAndPath::equals).count();
  }

  private void answer(HttpExchange exchange) throws IOException {
    try (exchange) {
      String path = exchange.getRequestURI().getRawPath();
      requests.add(exchange.getRequestMethod() + " " + path);
      Fault fault = faults.poll();
      if (fault == null) {
        fault = permanentFault;
      }
      if (fault != null) {
        if (fault.retryAfter() != null) {
          exchange.getResponseHeaders().set("Retry-After", fault.retryAfter());
        }
        reply(exchange, fault.status(), "application/json", "{\"errors\":[{\"code\":\"UNKNOWN\",\"message\":\"injected fault\"}]}".getBytes(StandardCharsets.UTF_8));
        return;
      }
      if (path.equals("/v2/")) {
        reply(exchange, 200, "application/json", "{}".getBytes(StandardCharsets.UTF_8));
        return;
      }
      List<ReferrersIndex> pages = referrerPages.get(path);
      if (pages != null) {
        String query = exchange.getRequestURI().getRawQuery();
        int page = query != null && query.startsWith("page=") ? Integer.parseInt(query.substring(5)) : 0;
        if (page + 1 < pages.size()) {
          exchange.getResponseHeaders().set("Link", "<" + path + "?page=" + (page + 1) + ">; rel=\"next\"");
        }
        reply(exchange, 200, "application/vnd.oci.image.index.v1+json", pages.get(page).toBytes());
        return;
      }
      TestImage.Blob blob = content.get(path);
      if (blob == null) {
        reply(exchange, 404, "application/json", "{\"errors\":[{\"code\":\"NAME_UNKNOWN\",\"message\":\"unknown\"}]}".getBytes(StandardCharsets.UTF_8));
        return;
      }
      exchange.getResponseHeaders().set("Docker-Content-Digest", blob.digest().toString());
      reply(exchange, 200, path.contains("/manifests/") ? blob.mediaType() : "application/octet-stream", blob.bytes());
    }
  }

  private static void reply(HttpExchange exchange, int status, String contentType, byte[] body) throws IOException {
    exchange.getResponseHeaders().set("Content-Type", contentType);
    boolean head = exchange.getRequestMethod().equals("HEAD");
    exchange.sendResponseHeaders(status, head ? -1 : body.length);
    if (!head) {
      try (OutputStream out = exchange.getResponseBody()) {
        out.write(body);
      }
    }
  }

  @Override
  public void close() {
    server.stop(0);
    executor.shutdownNow();
  }
}
