package io.cistern.cluster;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.Reference;
import io.cistern.oci.RepositoryName;
import io.cistern.upstream.BoundedBody;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodySubscribers;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;

/**
 * Requests to other members: ordinary registry requests with the {@link MemberToken#HEADER}
 * header, the upstream named as {@code ?ns=<host>} as containerd names it. They carry no client's
 * credentials; the member asked uses its own with its upstream.
 *
 * <ul>
 *   <li>{@code GET /v2/} is the liveness probe;
 *   <li>{@code GET /v2/<repo>/blobs/<digest>} asks the blob's owner for its bytes (from an offset,
 *       by {@code Range}, to resume);
 *   <li>{@code GET /v2/<repo>/manifests/<reference>} asks the repository's owner for a manifest or
 *       a tag's, with every manifest type accepted, so that an index comes back as an index.
 * </ul>
 *
 * <p>Every failure is a {@link MemberException}: with the member's status when it answered, with
 * 0 when it could not be reached or cut its answer.
 */
public final class MemberClient {

  /** Time to a blob answer's headers: the member asked may first have to reserve room and reach its upstream. */
  static final Duration BLOB_HEADERS_TIMEOUT = Duration.ofSeconds(90);
  /** Time to a manifest answer, which the member asked may have to fetch from its upstream. */
  static final Duration MANIFEST_TIMEOUT = Duration.ofSeconds(60);

  private final HttpClient http;
  private final MemberToken token;
  private final Duration probeTimeout;

  /** @param http an HTTP/1.1 client that follows no redirects */
  public MemberClient(HttpClient http, MemberToken token, Duration probeTimeout) {
    this.http = http;
    this.token = token;
    this.probeTimeout = probeTimeout;
  }

  /** Completes when {@code member} answers its probe with 200; fails with a {@link MemberException} otherwise. */
  public CompletableFuture<Void> probe(Member member) {
    HttpRequest request = request(member, "/v2/", probeTimeout).GET().build();
    return http.sendAsync(request, HttpResponse.BodyHandlers.discarding())
        .handle((response, failure) -> {
          if (failure != null) {
            throw MemberException.of(member, failure);
          }
          if (response.statusCode() != 200) {
            throw new MemberException(member, response.statusCode(), "member " + member + " answered its probe with "
                + response.statusCode(), null);
          }
          return null;
        });
  }

  /**
   * GETs a blob from its owner, from byte {@code offset} on ({@code Range} above 0). The handler
   * sees only a 200 or 206; the future completes when the handler's body has.
   */
  public <T> CompletableFuture<HttpResponse<T>> getBlob(Member member, String upstream, RepositoryName repository,
      Digest digest, long offset, BodyHandler<T> handler) {
    HttpRequest.Builder request = request(member, path(repository, "blobs", digest.toString(), upstream), BLOB_HEADERS_TIMEOUT).GET();
    if (offset > 0) {
      request.header("Range", "bytes=" + offset + "-");
    }
    return send(member, request.build(), handler);
  }

  /** The blob's size as its owner knows it (a HEAD). */
  public CompletableFuture<OptionalLong> headBlob(Member member, String upstream, RepositoryName repository, Digest digest) {
    HttpRequest request = request(member, path(repository, "blobs", digest.toString(), upstream), MANIFEST_TIMEOUT)
        .method("HEAD", HttpRequest.BodyPublishers.noBody()).build();
    return send(member, request, HttpResponse.BodyHandlers.discarding())
        .thenApply(response -> response.headers().firstValueAsLong("Content-Length"));
  }

  /**
   * A manifest, by digest or tag, from the repository's owner, checked against the digest asked for
   * or the one the owner names.
   */
  public CompletableFuture<Manifest> getManifest(Member member, String upstream, RepositoryName repository,
      Reference reference) {
    HttpRequest request = request(member, path(repository, "manifests", reference.toString(), upstream), MANIFEST_TIMEOUT)
        .header("Accept", String.join(", ", MediaTypes.ALL_MANIFESTS))
        .GET().build();
    BodyHandler<byte[]> bounded = BoundedBody.upTo(Manifest.MAX_BYTES, () -> new MemberException(member, 502,
        "member " + member + " sent a manifest larger than " + Manifest.MAX_BYTES + " bytes", null));
    return send(member, request, bounded).thenApply(response -> {
      byte[] bytes = response.body();
      Digest expected = reference instanceof Digest digest ? digest
          : response.headers().firstValue("Docker-Content-Digest").map(MemberClient::digestOrNull).orElse(null);
      if (expected == null || !expected.matches(bytes)) {
        throw new MemberException(member, 502, "member " + member + " sent a manifest that is not " + reference, null);
      }
      String mediaType = response.headers().firstValue("Content-Type").map(type -> type.split(";")[0].trim()).orElse(null);
      if (!MediaTypes.isManifest(mediaType)) {
        mediaType = ManifestDocument.parse(bytes).mediaType();
      }
      return new Manifest(expected, mediaType, bytes);
    });
  }

  private <T> CompletableFuture<HttpResponse<T>> send(Member member, HttpRequest request, BodyHandler<T> handler) {
    // Error bodies are not read: the status says all a member needs to know.
    BodyHandler<T> successOnly = info -> info.statusCode() / 100 == 2 ? handler.apply(info) : BodySubscribers.replacing(null);
    return http.sendAsync(request, successOnly).handle((response, failure) -> {
      if (failure != null) {
        throw MemberException.of(member, failure);
      }
      if (response.statusCode() / 100 != 2) {
        throw new MemberException(member, response.statusCode(), "member " + member + " answered "
            + request.method() + " " + request.uri().getPath() + " with " + response.statusCode(), null);
      }
      return response;
    });
  }

  private HttpRequest.Builder request(Member member, String pathAndQuery, Duration timeout) {
    return HttpRequest.newBuilder(member.resolve(pathAndQuery))
        .timeout(timeout)
        .header(MemberToken.HEADER, token.value());
  }

  private static String path(RepositoryName repository, String kind, String reference, String upstream) {
    return "/v2/" + repository + "/" + kind + "/" + reference + "?ns=" + URLEncoder.encode(upstream, StandardCharsets.UTF_8);
  }

  private static Digest digestOrNull(String text) {
    try {
      return Digest.parse(text.trim());
    } catch (RuntimeException e) {
      return null;
    }
  }
}
