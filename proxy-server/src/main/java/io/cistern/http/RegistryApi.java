package io.cistern.http;

import io.cistern.auth.ClientAuthenticator;
import io.cistern.cluster.MemberToken;
import io.cistern.oci.AcceptHeader;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.Json;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.Reference;
import io.cistern.oci.ReferrersIndex;
import io.cistern.oci.RegistryException;
import io.cistern.proxy.BlobService;
import io.cistern.proxy.BlobSource;
import io.cistern.proxy.Caller;
import io.cistern.proxy.ManifestService;
import io.cistern.proxy.RangeRelay;
import io.cistern.proxy.RequestedRange;
import io.cistern.proxy.TagService;
import io.cistern.upstream.UpstreamRouter;
import io.cistern.upstream.UpstreamRouter.Route;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The registry v2 pull API: which service answers which endpoint, and how its answer is put. Knows
 * nothing of connections; {@link RegistryHandler} writes what this returns.
 *
 * <p>A request with the {@link MemberToken#HEADER} header is another member's: with the cluster's
 * token it is answered without client authentication, as a member's ({@link Caller#MEMBER}: never
 * passed on to another member); with any other token it is a 401, and nothing is served.
 */
public final class RegistryApi {

  private static final byte[] EMPTY_OBJECT = "{}".getBytes(StandardCharsets.UTF_8);
  /** Who the access log names for another member's requests. */
  static final String MEMBER_USER = "cluster-member";
  private static final int ACCEPT_HEADERS_KEPT = 64;

  private final UpstreamRouter router;
  private final ManifestService manifests;
  private final BlobService blobs;
  private final RangeRelay ranges;
  private final TagService tags;
  private final ClientAuthenticator clients;
  private final MemberToken members;
  private final Map<String, AcceptHeader> acceptHeaders = new ConcurrentHashMap<>();

  /**
   * @param ranges answers a blob GET with a {@code Range} the blob's download has not reached
   * @param clients who may pull; {@link ClientAuthenticator#anonymous()} lets everyone
   * @param members the token of the cluster's members, whose requests need no client credentials
   */
  public RegistryApi(UpstreamRouter router, ManifestService manifests, BlobService blobs, RangeRelay ranges,
      TagService tags, ClientAuthenticator clients, MemberToken members) {
    this.router = router;
    this.manifests = manifests;
    this.blobs = blobs;
    this.ranges = ranges;
    this.tags = tags;
    this.clients = clients;
    this.members = members;
  }

  /**
   * Answers one request, noting on {@code exchange} what it learns (who asked, which upstream,
   * whether the cache answered); every failure, thrown or not, comes back as a failed future.
   */
  CompletableFuture<Reply> handle(Exchange exchange) {
    String member = exchange.request().headers().get(MemberToken.HEADER);
    if (member != null) {
      // Another member's request: its token stands for client credentials, which it never carries.
      if (!members.accepts(member)) {
        return CompletableFuture.completedFuture(Reply.error(new RegistryException(ErrorCode.UNAUTHORIZED,
            "the " + MemberToken.HEADER + " token is not this cluster's")));
      }
      exchange.user(MEMBER_USER);
      return answer(exchange, Caller.MEMBER);
    }
    if (!clients.required()) {
      return answer(exchange, Caller.CLIENT);
    }
    // Every endpoint, /v2/ included, asks for credentials: that 401 is how clients learn to send them.
    return clients.authenticate(exchange.request().headers().get(HttpHeaderNames.AUTHORIZATION)).thenCompose(user -> {
      if (user.isEmpty()) {
        return CompletableFuture.completedFuture(Reply.unauthorized(clients.challenge()));
      }
      exchange.user(user.get());
      return answer(exchange, Caller.CLIENT);
    });
  }

  private CompletableFuture<Reply> answer(Exchange exchange, Caller caller) {
    try {
      HttpMethod method = exchange.request().method();
      HttpHeaders headers = exchange.request().headers();
      RegistryRoute route = exchange.route();
      if (route instanceof RegistryRoute.Unknown unknown) {
        throw new RegistryException(ErrorCode.UNSUPPORTED, 404, "unknown endpoint " + unknown.path(), null, null);
      }
      if (!method.equals(HttpMethod.GET) && !method.equals(HttpMethod.HEAD)) {
        return CompletableFuture.completedFuture(Reply.unsupportedMethod(method.name()));
      }
      boolean head = method.equals(HttpMethod.HEAD);
      Map<String, List<String>> query = exchange.parameters();
      String namespace = parameter(query, "ns");
      if (route instanceof RegistryRoute.Base) {
        return CompletableFuture.completedFuture(Reply.json(HttpResponseStatus.OK, EMPTY_OBJECT));
      }
      if (route instanceof RegistryRoute.Manifest manifest) {
        Route target = router.route(manifest.name(), namespace);
        exchange.upstream(target.upstream().host());
        Reference reference = Reference.parse(manifest.reference());
        AcceptHeader accept = accept(headers.getAll(HttpHeaderNames.ACCEPT));
        return manifests.get(target, reference, accept, caller).thenApply(served -> {
          exchange.cacheHit(served.fromCache());
          return new Reply.ManifestBody(served.manifest());
        });
      }
      if (route instanceof RegistryRoute.Blob blob) {
        Route target = router.route(blob.name(), namespace);
        exchange.upstream(target.upstream().host());
        Digest digest = blobDigest(blob.digest());
        if (head) {
          return blobs.size(target, digest, caller).thenApply(size -> new Reply.BlobHead(digest, size));
        }
        CompletableFuture<Optional<URI>> elsewhere = caller == Caller.CLIENT
            ? blobs.redirect(digest)
            : CompletableFuture.completedFuture(Optional.empty());
        return elsewhere.thenCompose(location -> location.isPresent()
            ? CompletableFuture.completedFuture(new Reply.Redirect(digest, location.get()))
            : openBlob(target, digest, headers.get(HttpHeaderNames.RANGE), caller).thenApply(source -> {
              exchange.cacheHit(source instanceof BlobSource.Stored);
              if (source instanceof BlobSource.Downloading downloading) {
                exchange.fillSource(downloading.blob()::source);
              }
              return new Reply.Blob(digest, source);
            }));
      }
      if (route instanceof RegistryRoute.Referrers referrers) {
        Route target = router.route(referrers.name(), namespace);
        exchange.upstream(target.upstream().host());
        // Unlike a blob's, a bad subject is always DIGEST_INVALID: the spec says a registry with
        // the referrers API must not answer it 404, and must answer invalid syntax 400.
        Digest subject = Digest.parse(referrers.digest());
        String artifactType = parameter(query, "artifactType");
        return manifests.referrers(target, subject).thenApply(index -> referrersReply(index, artifactType));
      }
      if (route instanceof RegistryRoute.TagList tagList) {
        return listTags(tagList.name(), namespace, query, exchange);
      }
      if (route instanceof RegistryRoute.Upload) {
        return CompletableFuture.completedFuture(Reply.unsupportedMethod("upload"));
      }
      throw new RegistryException(ErrorCode.UNSUPPORTED, 404, "Cistern does not serve " + exchange.path(), null, null);
    } catch (RuntimeException e) {
      return CompletableFuture.failedFuture(e);
    }
  }

  /**
   * A blob's bytes for a GET: a client's range goes to the relay, which hands back the blob's own
   * source unless it relays. A member's range resumes the one download its owner runs for the
   * cluster, so it is never relayed (that would be a second upstream GET).
   */
  private CompletableFuture<BlobSource> openBlob(Route target, Digest digest, String range, Caller caller) {
    Optional<RequestedRange> asked = caller == Caller.CLIENT ? RequestedRange.parse(range) : Optional.empty();
    return asked.isPresent() ? ranges.open(target, digest, asked.get()) : blobs.open(target, digest, caller);
  }

  private CompletableFuture<Reply> listTags(String name, String namespace, Map<String, List<String>> query, Exchange exchange) {
    Route target = router.route(name, namespace);
    exchange.upstream(target.upstream().host());
    Integer limit = pageSize(parameter(query, "n"));
    String last = parameter(query, "last");
    return tags.list(target, limit, last).thenApply(page -> {
      Map<String, Object> body = new LinkedHashMap<>();
      body.put("name", target.repository().value());
      body.put("tags", page.tags());
      Reply.Bytes reply = Reply.json(HttpResponseStatus.OK, Json.bytes(body));
      if (page.next() != null) {
        StringBuilder link = new StringBuilder("</v2/").append(name).append("/tags/list?n=").append(limit)
            .append("&last=").append(URLEncoder.encode(page.next(), StandardCharsets.UTF_8));
        if (namespace != null) {
          link.append("&ns=").append(URLEncoder.encode(namespace, StandardCharsets.UTF_8));
        }
        reply.headers().set("Link", link.append(">; rel=\"next\"").toString());
      }
      return reply;
    });
  }

  /** The referrers index, filtered when asked, with the header that says the filter was applied. */
  private static Reply referrersReply(ReferrersIndex index, String artifactType) {
    ReferrersIndex shown = artifactType == null ? index : index.ofArtifactType(artifactType);
    Reply.Bytes reply = Reply.json(HttpResponseStatus.OK, shown.toBytes());
    reply.headers().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.OCI_INDEX);
    if (artifactType != null) {
      reply.headers().set("OCI-Filters-Applied", "artifactType");
    }
    return reply;
  }

  /**
   * A blob path's digest. A malformed digest is {@code DIGEST_INVALID} (400); a text not even shaped
   * like one names no blob, so it is {@code BLOB_UNKNOWN} (404), as CNCF Distribution answers both.
   */
  private static Digest blobDigest(String text) {
    if (!Digest.looksLikeDigest(text)) {
      throw new RegistryException(ErrorCode.BLOB_UNKNOWN, "blob unknown: not a digest");
    }
    return Digest.parse(text);
  }

  private static Integer pageSize(String text) {
    if (text == null) {
      return null;
    }
    try {
      int value = Integer.parseInt(text);
      if (value >= 0) {
        return value;
      }
    } catch (NumberFormatException e) {
      // Falls through to the error below.
    }
    throw new RegistryException(ErrorCode.PAGINATION_NUMBER_INVALID, "n must be a non-negative number");
  }

  /**
   * The media types a client accepts, parsed once per distinct header: a client sends the same one
   * with every pull, and parsing it (splits, sets) was a tenth of a hot manifest's allocation.
   * Bounded, so clients cannot grow it: past {@value #ACCEPT_HEADERS_KEPT} kinds, the rest are
   * parsed every time.
   */
  private AcceptHeader accept(List<String> values) {
    if (values.size() != 1) {
      return AcceptHeader.parse(values);
    }
    AcceptHeader parsed = acceptHeaders.get(values.get(0));
    if (parsed == null) {
      parsed = AcceptHeader.parse(values);
      if (acceptHeaders.size() < ACCEPT_HEADERS_KEPT) {
        acceptHeaders.put(values.get(0), parsed);
      }
    }
    return parsed;
  }

  private static String parameter(Map<String, List<String>> query, String name) {
    List<String> values = query.get(name);
    return values == null || values.isEmpty() ? null : values.get(0);
  }
}
