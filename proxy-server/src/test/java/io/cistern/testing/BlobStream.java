package io.cistern.testing;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Arrays;

/**
 * A blob response read in two steps: its first bytes as soon as they arrive, the rest later. A
 * test that holds the upstream back can so prove that a client got bytes before the download
 * finished, with no clock involved.
 */
public final class BlobStream {

  private final HttpResponse<InputStream> response;
  private final byte[] first;

  private BlobStream(HttpResponse<InputStream> response, byte[] first) {
    this.response = response;
    this.first = first;
  }

  /**
   * Sends GET {@code uri} (with {@code headers} as name, value pairs) and returns once the first
   * body bytes are in.
   */
  public static BlobStream open(HttpClient http, URI uri, String... headers) {
    HttpRequest.Builder request = HttpRequest.newBuilder(uri).GET();
    for (int i = 0; i < headers.length; i += 2) {
      request.header(headers[i], headers[i + 1]);
    }
    try {
      HttpResponse<InputStream> response = http.send(request.build(), HttpResponse.BodyHandlers.ofInputStream());
      byte[] buffer = new byte[16 * 1024];
      int n = response.body().read(buffer);
      return new BlobStream(response, n < 0 ? new byte[0] : Arrays.copyOf(buffer, n));
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IllegalStateException(e);
    }
  }

  public int status() {
    return response.statusCode();
  }

  public HttpResponse<InputStream> response() {
    return response;
  }

  /** The bytes that had arrived when {@link #open} returned. */
  public byte[] first() {
    return first.clone();
  }

  /** Reads the rest of the body and returns all of it. */
  public byte[] finish() throws IOException {
    try (InputStream in = response.body()) {
      byte[] rest = in.readAllBytes();
      byte[] all = Arrays.copyOf(first, first.length + rest.length);
      System.arraycopy(rest, 0, all, first.length, rest.length);
      return all;
    }
  }
}
