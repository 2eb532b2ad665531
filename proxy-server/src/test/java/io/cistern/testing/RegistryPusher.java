package io.cistern.testing;

import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;

/**
 * Pushes generated images straight over the registry API (monolithic blob uploads, then the
 * manifest): a fast way to seed a real upstream where a test is not about the push client.
 */
public final class RegistryPusher {

  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();
  private final URI registry;

  public RegistryPusher(URI registry) {
    this.registry = registry;
  }

  /** Pushes every blob and manifest of {@code image} and tags the top manifest. */
  public void push(String repository, String tag, TestImage image) throws IOException, InterruptedException {
    for (TestImage child : image.children()) {
      push(repository, child.digest().toString(), child);
    }
    for (TestImage.Blob blob : image.blobs()) {
      pushBlob(repository, blob.bytes(), blob.digest().toString());
    }
    putManifest(repository, tag, image.manifest());
  }

  public void pushBlob(String repository, byte[] bytes, String digest) throws IOException, InterruptedException {
    HttpResponse<Void> started = http.send(HttpRequest.newBuilder(registry.resolve("/v2/" + repository + "/blobs/uploads/"))
        .POST(HttpRequest.BodyPublishers.noBody()).build(), HttpResponse.BodyHandlers.discarding());
    expect(started, 202);
    URI location = registry.resolve(started.headers().firstValue("Location").orElseThrow());
    String separator = location.getQuery() == null ? "?" : "&";
    HttpResponse<Void> finished = http.send(HttpRequest.newBuilder(URI.create(location + separator + "digest=" + digest))
        .header("Content-Type", "application/octet-stream")
        .PUT(HttpRequest.BodyPublishers.ofByteArray(bytes)).build(), HttpResponse.BodyHandlers.discarding());
    expect(finished, 201);
  }

  public void putManifest(String repository, String reference, TestImage.Blob manifest) throws IOException, InterruptedException {
    HttpResponse<Void> response = http.send(HttpRequest.newBuilder(registry.resolve("/v2/" + repository + "/manifests/" + reference))
        .header("Content-Type", manifest.mediaType())
        .PUT(HttpRequest.BodyPublishers.ofByteArray(manifest.bytes())).build(), HttpResponse.BodyHandlers.discarding());
    expect(response, 201);
  }

  private static void expect(HttpResponse<?> response, int status) {
    if (response.statusCode() != status) {
      throw new AssertionError(response.request().method() + " " + response.uri() + " answered " + response.statusCode());
    }
  }
}
