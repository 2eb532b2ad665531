package io.cistern.upstream;

import com.fasterxml.jackson.databind.JsonNode;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.Json;
import io.cistern.oci.Manifest;
import io.cistern.oci.ManifestDocument;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.Reference;
import io.cistern.oci.ReferrersIndex;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import java.io.IOException;
import java.net.ProxySelector;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpHeaders;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodySubscribers;
import java.net.http.HttpTimeoutException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReferenceArray;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The registry v2 client for one upstream: manifests, blobs, tags, with the upstream's
 * authentication, redirects, retries on 429/503, and caps on concurrent requests and on
 * concurrent blob downloads ({@link UpstreamLimits}).
 *
 * <p>Retries: an answer of 429 or 503 is retried up to {@code maxRetries} times, after its
 * {@code Retry-After} or a backoff. A request whose answer is read whole (a manifest, a tag list,
 * a HEAD) is retried the same way when the upstream refused the connection or dropped it: one
 * restart of the upstream is then not an error for the client. A timeout is not retried (the
 * client has waited long enough), nor is a blob's body: it is streamed into the cache, and
 * resuming it from the bytes already written is its reader's job.
 *
 * <p>Failover: an upstream with several urls ({@link UpstreamUrls}) sends each request to the one
 * last found healthy; a connection failure, a timeout or a 5xx there sends it on to the next at
 * once, round the urls once, before the retries above (each of which goes round again). A blob
 * GET moves on only if its body had not begun: a body cut mid-way is its reader's to resume, and
 * its resumption goes where requests start, the next url by then if this one is down.
 *
 * <p>Authentication: the first request goes out anonymously; a 401 carries the upstream's
 * challenge, which is remembered per url (mirrors of one registry may authenticate differently)
 * so that later requests authenticate up front (a Bearer token per repository scope from
 * {@link TokenCache}, or Basic credentials, the upstream's own whichever url asks). A 401 on a
 * request that carried a token drops that token and retries once with a fresh one.
 */
public final class RegistryClient {

  private static final Logger log = LoggerFactory.getLogger(RegistryClient.class);

  /**
   * All pages of one tag list together: a tag has at most 128 characters, so this is room for
   * over a hundred thousand of them, and still a bound on what one request may hold in memory.
   */
  static final int MAX_TAG_LIST_BYTES = 16 << 20;

  private static final int MAX_REDIRECTS = 5;
  /** The most pages of a paginated list (tags, referrers) that are followed. */
  private static final int MAX_PAGES = 1000;
  /**
   * The longest Cistern waits before retrying a 429 or 503, with a client waiting on the answer.
   * An upstream that asks for a longer wait gets no retry: its status and {@code Retry-After} go
   * back to the client, whose own retry logic can wait without holding a connection open.
   */
  static final Duration MAX_RETRY_WAIT = Duration.ofSeconds(10);

  private final UpstreamSettings settings;
  private final HttpClient http;
  private final TokenCache tokens;
  private final Executor executor;
  private final UpstreamLimits limits;
  private final Duration baseBackoff;
  private final UpstreamObserver observer;
  private final UpstreamUrls urls;
  /** The challenge each url answered with, by index; null until it has challenged. */
  private final AtomicReferenceArray<Challenge> challenges;

  /** @param observer told about every exchange with the upstream (for metrics) */
  public RegistryClient(UpstreamSettings settings, HttpClient http, Executor executor, Duration baseBackoff,
      UpstreamObserver observer) {
    this(settings, http, executor, baseBackoff, observer, Clock.systemUTC());
  }

  /** @param clock times how long a url that answered after another failed is remembered */
  public RegistryClient(UpstreamSettings settings, HttpClient http, Executor executor, Duration baseBackoff,
      UpstreamObserver observer, Clock clock) {
    this.settings = settings;
    this.urls = new UpstreamUrls(settings.urls(), settings.failoverMemory(), clock);
    this.challenges = new AtomicReferenceArray<>(urls.size());
    this.http = http;
    this.executor = executor;
    this.baseBackoff = baseBackoff;
    this.observer = observer;
    this.tokens = new TokenCache(http, settings, executor);
    this.limits = new UpstreamLimits(settings.maxConcurrentRequests(), settings.maxConcurrentBlobDownloads(), executor);
  }

  /**
   * An HTTP client for {@code settings}: no automatic redirects (the client strips credentials
   * itself), TLS trusting what {@code tls} trusts, and the outbound proxy {@code proxies} chooses.
   */
  public static HttpClient newHttpClient(UpstreamSettings settings, Executor executor, SSLContext tls, ProxySelector proxies) {
    return HttpClient.newBuilder()
        .executor(executor)
        .connectTimeout(settings.connectTimeout())
        .followRedirects(HttpClient.Redirect.NEVER)
        .sslContext(tls)
        .proxy(proxies)
        .build();
  }

  public UpstreamSettings settings() {
    return settings;
  }

  public String host() {
    return settings.host();
  }

  /** The first wait before a retry; later ones double. */
  public Duration retryBackoff() {
    return baseBackoff;
  }

  public TokenCache tokens() {
    return tokens;
  }

  /** The upstream's urls and which one requests start at. */
  public UpstreamUrls urls() {
    return urls;
  }

  /** GETs a manifest, verifying it against the digest asked for or the one the upstream names. */
  public CompletableFuture<Manifest> getManifest(RepositoryName repository, Reference reference) {
    Call call = Call.get(path(repository, "manifests", reference.toString()), repository)
        .withAccept(MediaTypes.ALL_MANIFESTS);
    return exchange(call, document("a manifest", Manifest.MAX_BYTES), ErrorCode.MANIFEST_UNKNOWN)
        .thenApply(response -> toManifest(reference, response));
  }

  /**
   * The referrers of {@code subject} from the OCI referrers API, every page in one index (unfiltered:
   * Cistern caches the whole list and filters by artifact type itself). Empty when the upstream
   * lacks the API: it answers 404, which the spec forbids a registry that has it. The pages
   * together may not exceed a manifest's size: the list is stored as one.
   */
  public CompletableFuture<Optional<ReferrersIndex>> getReferrers(RepositoryName repository, Digest subject) {
    Call first = Call.get(path(repository, "referrers", subject.toString()), repository);
    return referrersPage(first, ReferrersIndex.EMPTY, 0, 0)
        .thenApply(Optional::of)
        .exceptionallyCompose(failure -> {
          RegistryException error = UpstreamErrors.forFailure(host(), failure);
          return error.status() == 404
              ? CompletableFuture.completedFuture(Optional.empty())
              : CompletableFuture.failedFuture(error);
        });
  }

  private CompletableFuture<ReferrersIndex> referrersPage(Call page, ReferrersIndex sofar, int pages, long bytes) {
    Call call = page.withAccept(List.of(MediaTypes.OCI_INDEX));
    BodyHandler<byte[]> body = document("a referrers list", Manifest.MAX_BYTES, bytes);
    return exchange(call, body, ErrorCode.MANIFEST_UNKNOWN).thenCompose(response -> {
      ReferrersIndex all;
      try {
        all = sofar.plus(ReferrersIndex.parse(response.body()));
      } catch (RegistryException notAnIndex) {
        throw new RegistryException(ErrorCode.UNAVAILABLE, 502,
            "upstream " + host() + " sent an invalid referrers list", null, notAnIndex);
      }
      Optional<Call> next = nextPage(call, response);
      if (next.isPresent() && pages + 1 < MAX_PAGES) {
        return referrersPage(next.get(), all, pages + 1, bytes + response.body().length);
      }
      return CompletableFuture.completedFuture(all);
    });
  }

  /** HEADs a manifest: its digest (when the upstream names it), media type and size. */
  public CompletableFuture<ManifestHead> headManifest(RepositoryName repository, Reference reference) {
    Call call = Call.head(path(repository, "manifests", reference.toString()), repository)
        .withAccept(MediaTypes.ALL_MANIFESTS);
    return exchange(call, HttpResponse.BodyHandlers.discarding(), ErrorCode.MANIFEST_UNKNOWN)
        .thenApply(response -> new ManifestHead(
            response.headers().firstValue("Docker-Content-Digest").map(RegistryClient::parseDigestOrNull),
            contentType(response.headers()),
            response.headers().firstValueAsLong("Content-Length")));
  }

  /** HEADs a blob: its size when the upstream tells it. */
  public CompletableFuture<OptionalLong> headBlob(RepositoryName repository, Digest digest) {
    Call call = Call.head(path(repository, "blobs", digest.toString()), repository).followingRedirects();
    return exchange(call, HttpResponse.BodyHandlers.discarding(), ErrorCode.BLOB_UNKNOWN)
        .thenApply(response -> response.headers().firstValueAsLong("Content-Length"));
  }

  /**
   * GETs a blob from byte {@code offset} on (a {@code Range} request when it is above zero). The
   * handler sees only the successful answer (200 or 206); anything else fails the future with
   * the upstream's error. The future completes when the handler's body is complete.
   */
  public <T> CompletableFuture<HttpResponse<T>> getBlob(
      RepositoryName repository, Digest digest, long offset, BodyHandler<T> handler) {
    Call call = Call.get(path(repository, "blobs", digest.toString()), repository).followingRedirects().asStream();
    if (offset > 0) {
      call = call.withRange("bytes=" + offset + "-");
    }
    return exchange(call, handler, ErrorCode.BLOB_UNKNOWN);
  }

  /**
   * GETs the bytes {@code range} (a {@code Range} header's value) of a blob, for a client that
   * asked for them before the blob's download has reached them. It is a blob GET like any other
   * (the upstream's authentication, redirects, and the blob downloads' cap, whose permit is held
   * until the last byte of the body: the body goes to that client at its pace, and may be large),
   * but never retried here: a broken relay is the client's to ask again. The handler sees only a
   * successful answer, whose status it must check (an upstream that ignores ranges answers 200).
   */
  public <T> CompletableFuture<HttpResponse<T>> getBlobRange(
      RepositoryName repository, Digest digest, String range, BodyHandler<T> handler) {
    Call call = Call.get(path(repository, "blobs", digest.toString()), repository).followingRedirects().asStream()
        .withRange(range);
    return exchange(call, handler, ErrorCode.BLOB_UNKNOWN);
  }

  /** Every tag of a repository, following {@code Link} pagination where the upstream uses it. */
  public CompletableFuture<List<String>> listTags(RepositoryName repository) {
    return listTagPage(Call.get(path(repository, "tags", "list"), repository), new ArrayList<>(), 0, 0);
  }

  private CompletableFuture<List<String>> listTagPage(Call page, List<String> tags, int pages, long bytes) {
    Call call = page.withAccept(List.of(MediaTypes.JSON));
    BodyHandler<byte[]> list = document("a tag list", MAX_TAG_LIST_BYTES, bytes);
    return exchange(call, list, ErrorCode.NAME_UNKNOWN).thenCompose(response -> {
      try {
        JsonNode body = Json.tree(response.body());
        body.path("tags").forEach(tag -> tags.add(tag.asText()));
      } catch (IOException e) {
        throw new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream " + host() + " sent an invalid tag list", null, e);
      }
      Optional<Call> next = nextPage(call, response);
      if (next.isPresent() && pages + 1 < MAX_PAGES) {
        return listTagPage(next.get(), tags, pages + 1, bytes + response.body().length);
      }
      return CompletableFuture.completedFuture(tags);
    });
  }

  // ---- the exchange: limits, failover, authentication, redirects, retries ----

  private <T> CompletableFuture<HttpResponse<T>> exchange(Call call, BodyHandler<T> handler, ErrorCode notFound) {
    return send(call.at(urls.start(), urls), handler, 0, 0, 0, false).handle((result, failure) -> {
      if (failure != null) {
        throw UpstreamErrors.forFailure(host(), failure);
      }
      if (result.statusCode() / 100 != 2) {
        throw UpstreamErrors.forStatus(host(), result.statusCode(), result.headers(), notFound);
      }
      return result;
    });
  }

  /**
   * @param retries retries so far (each a new round of the urls)
   * @param tried urls tried before this one in the current round
   */
  private <T> CompletableFuture<HttpResponse<T>> send(
      Call call, BodyHandler<T> handler, int retries, int tried, int redirects, boolean reauthenticated) {
    return authorization(call).thenCompose(authorization -> {
      HttpRequest request = call.toRequest(authorization, settings.responseTimeout());
      // Set once a success's body is handed to the caller's handler: from then on a streamed call
      // is not sent again (the body is its reader's to resume), not even to another url.
      AtomicBoolean bodyBegun = new AtomicBoolean();
      Supplier<CompletableFuture<HttpResponse<T>>> exchange =
          () -> http.sendAsync(request, onlySuccessBodies(handler, bodyBegun));
      // A blob GET (the one streamed call) holds a download permit for its whole body; the rest
      // are small and have their own, so a revalidation never queues behind layer downloads.
      CompletableFuture<HttpResponse<T>> limited = call.streamed() ? limits.blobDownload(exchange) : limits.request(exchange);
      return observed(call, limited).handle((response, failure) -> {
        if (failure != null) {
          RetryCause failover = RetryCause.ofConnectionFailure(failure);
          if (failover != null && (!call.streamed() || !bodyBegun.get())) {
            urls.failed(call.url());
            if (canFailOver(call, tried)) {
              return failOver(call, handler, retries, tried, failover.label());
            }
          }
          RetryCause cause = call.streamed() ? null : retriedConnectionFailure(failure);
          if (cause == null || retries >= settings.maxRetries()) {
            return CompletableFuture.<HttpResponse<T>>failedFuture(failure);
          }
          Duration delay = backoff(retries, Optional.empty());
          retrying(call, cause, delay);
          return later(delay, () -> send(call.at(urls.start(), urls), handler, retries + 1, 0, 0, reauthenticated));
        }
        int status = response.statusCode();
        if (status == 401 && !reauthenticated && !call.offOrigin()) {
          Optional<Challenge> offered = Challenge.preferred(response.headers().allValues("WWW-Authenticate"));
          if (offered.isPresent() && canAnswer(offered.get(), authorization)) {
            challenges.set(call.url(), offered.get());
            forgetRejectedToken(call, authorization);
            return send(call, handler, retries, tried, redirects, true);
          }
        }
        if (isRedirect(status) && call.followsRedirects() && redirects < MAX_REDIRECTS) {
          Optional<String> location = response.headers().firstValue("Location");
          if (location.isPresent()) {
            Call redirected = call.redirectedTo(request.uri().resolve(location.get()));
            return send(redirected, handler, retries, tried, redirects + 1, reauthenticated);
          }
        }
        if (status >= 500) {
          urls.failed(call.url());
          if (canFailOver(call, tried)) {
            return failOver(call, handler, retries, tried, "answered " + status);
          }
        }
        if ((status == 429 || status == 503) && retries < settings.maxRetries()) {
          Optional<Duration> asked = UpstreamErrors.retryAfter(response.headers());
          if (asked.isEmpty() || asked.get().compareTo(MAX_RETRY_WAIT) <= 0) {
            Duration delay = backoff(retries, asked);
            retrying(call, RetryCause.ofStatus(status), delay);
            return later(delay, () -> send(call.at(urls.start(), urls), handler, retries + 1, 0, 0, reauthenticated));
          }
        }
        return CompletableFuture.completedFuture(response);
      }).thenCompose(next -> next);
    });
  }

  /** Whether {@code call} failing at its url leaves an url of this round untried. */
  private boolean canFailOver(Call call, int tried) {
    return call.hasPath() && tried + 1 < urls.size();
  }

  /** Sends {@code call} to the next url at once: another server, so no wait. */
  private <T> CompletableFuture<HttpResponse<T>> failOver(
      Call call, BodyHandler<T> handler, int retries, int tried, String why) {
    int next = urls.after(call.url());
    log.info("{} {} on {} at {}: {}, trying {}", call.method(), call.path(), host(), urls.get(call.url()), why,
        urls.get(next));
    return send(call.at(next, urls), handler, retries, tried + 1, 0, false);
  }

  /**
   * The connection failure worth retrying a whole document for: refused or dropped. Not a timeout,
   * which has already made the client wait {@code connectTimeout} or {@code responseTimeout}.
   */
  private static RetryCause retriedConnectionFailure(Throwable failure) {
    return UpstreamErrors.unwrap(failure) instanceof HttpTimeoutException ? null : RetryCause.ofConnectionFailure(failure);
  }

  private void retrying(Call call, RetryCause cause, Duration delay) {
    observer.retrying(host(), cause, delay);
    log.info("{} {} on {}: {}, retrying in {} ms", call.method(), call.uri().getPath(), host(), cause.label(),
        delay.toMillis());
  }

  /** Counts the exchange under the url the call went to (a redirect's under the url that redirected). */
  private <T> CompletableFuture<HttpResponse<T>> observed(Call call, CompletableFuture<HttpResponse<T>> exchange) {
    URI url = urls.get(call.url());
    return exchange.whenComplete((response, failure) -> {
      if (failure != null) {
        observer.failed(host(), url, failure);
      } else {
        observer.responded(host(), url, response.statusCode());
        RateLimit.from(response.headers()).ifPresent(rateLimit -> observer.rateLimitReported(host(), rateLimit));
      }
    });
  }

  /** Whether answering {@code offered} could change the outcome: a Basic retry needs credentials not yet sent. */
  private boolean canAnswer(Challenge offered, String sentAuthorization) {
    if (offered.isBearer()) {
      return true;
    }
    return offered.isBasic() && settings.credentials() != null && sentAuthorization == null;
  }

  /** What to send in {@code Authorization}: nothing until the upstream has challenged. */
  private CompletableFuture<String> authorization(Call call) {
    Challenge current = challenges.get(call.url());
    if (current == null || call.offOrigin()) {
      return CompletableFuture.completedFuture(null);
    }
    if (current.isBasic()) {
      return CompletableFuture.completedFuture(
          settings.credentials() == null ? null : settings.credentials().basicAuthorization());
    }
    Optional<TokenCache.Key> key;
    try {
      key = tokenKey(current, call);
    } catch (RegistryException badRealm) {
      return CompletableFuture.failedFuture(badRealm);
    }
    if (key.isEmpty()) {
      return CompletableFuture.completedFuture(null);
    }
    return tokens.token(key.get()).thenApply(token -> "Bearer " + token);
  }

  private void forgetRejectedToken(Call call, String authorization) {
    Challenge current = challenges.get(call.url());
    if (authorization != null && authorization.startsWith("Bearer ") && current != null) {
      tokenKey(current, call).ifPresent(key -> tokens.invalidate(key, authorization.substring("Bearer ".length())));
    }
  }

  /**
   * The token's key: its realm, service and scope, not the url that asked for it. A token is good
   * wherever the same token service issued it for the same service (that is what a registry checks
   * of it), so urls whose challenges name the same realm and service share tokens; urls with a
   * realm or service of their own (an internal mirror with its own token service) get their own.
   * A token a url refuses anyway is dropped and fetched anew, as for a single url.
   *
   * @throws RegistryException when the challenge's realm is not a URL
   */
  private Optional<TokenCache.Key> tokenKey(Challenge bearer, Call call) {
    if (!bearer.isBearer()) {
      return Optional.empty();
    }
    return bearer.parameter("realm").map(realm -> {
      String scope = call.repository() != null
          ? "repository:" + settings.mirror().repository(host(), call.repository()) + ":pull"
          : bearer.parameter("scope").orElse(null);
      return new TokenCache.Key(realmUri(realm), bearer.parameter("service").orElse(null), scope);
    });
  }

  private URI realmUri(String realm) {
    try {
      return new URI(realm);
    } catch (URISyntaxException e) {
      throw new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream " + host() + " named a malformed token realm", null, e);
    }
  }

  /** Retry-After when the upstream gave one, else exponential from the base; both jittered and capped. */
  private Duration backoff(int retries, Optional<Duration> retryAfter) {
    Duration wait = retryAfter.orElse(baseBackoff.multipliedBy(1L << Math.min(retries, 10)));
    if (wait.compareTo(MAX_RETRY_WAIT) > 0) {
      wait = MAX_RETRY_WAIT;
    }
    long jitterMillis = ThreadLocalRandom.current().nextLong(baseBackoff.toMillis() + 1);
    return wait.plusMillis(jitterMillis);
  }

  private <T> CompletableFuture<T> later(Duration delay, Supplier<CompletableFuture<T>> action) {
    Executor delayed = CompletableFuture.delayedExecutor(delay.toMillis(), TimeUnit.MILLISECONDS, executor);
    return CompletableFuture.supplyAsync(action, delayed).thenCompose(future -> future);
  }

  /** Reads a JSON document whole; one above {@code limit} bytes fails with a 502. */
  private BodyHandler<byte[]> document(String what, int limit) {
    return document(what, limit, 0);
  }

  /** As {@link #document(String, int)}, for a page of a list that already holds {@code sofar} bytes. */
  private BodyHandler<byte[]> document(String what, int limit, long sofar) {
    return BoundedBody.upTo((int) (limit - sofar), () -> new RegistryException(ErrorCode.UNAVAILABLE, 502,
        "upstream " + host() + " sent " + what + " larger than " + limit + " bytes", null, null));
  }

  private static <T> BodyHandler<T> onlySuccessBodies(BodyHandler<T> handler, AtomicBoolean begun) {
    // Error, redirect and challenge bodies are never useful to a caller: drop them unread.
    return info -> {
      if (info.statusCode() / 100 != 2) {
        return BodySubscribers.replacing(null);
      }
      begun.set(true);
      return handler.apply(info);
    };
  }

  private Manifest toManifest(Reference reference, HttpResponse<byte[]> response) {
    byte[] bytes = response.body();
    String mediaType = contentType(response.headers());
    if (!MediaTypes.isManifest(mediaType)) {
      String declared = declaredMediaType(bytes);
      mediaType = declared != null ? declared : mediaType;
    }
    Digest expected = reference instanceof Digest digest
        ? digest
        : response.headers().firstValue("Docker-Content-Digest").map(RegistryClient::parseDigestOrNull).orElse(null);
    Manifest manifest = Manifest.of(mediaType, bytes);
    if (expected != null && !expected.matches(bytes)) {
      throw new RegistryException(ErrorCode.MANIFEST_INVALID, 502,
          "upstream " + host() + " sent a manifest that does not match " + expected, null, null);
    }
    return expected != null && expected.algorithm() != Digest.Algorithm.SHA256
        ? new Manifest(expected, mediaType, bytes)
        : manifest;
  }

  /** The media type a manifest names itself, for an upstream that did not say it in Content-Type. */
  private String declaredMediaType(byte[] manifest) {
    try {
      return ManifestDocument.parse(manifest).mediaType();
    } catch (RegistryException notJson) {
      // The client asked for a manifest and is not at fault: the upstream sent something else.
      throw new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream " + host() + " sent a manifest that is not JSON", null, notJson);
    }
  }

  private static String contentType(HttpHeaders headers) {
    String value = headers.firstValue("Content-Type").orElse(MediaTypes.OCTET_STREAM);
    int semicolon = value.indexOf(';');
    return (semicolon >= 0 ? value.substring(0, semicolon) : value).trim().toLowerCase(Locale.ROOT);
  }

  private static Digest parseDigestOrNull(String text) {
    try {
      return Digest.parse(text.trim());
    } catch (RegistryException e) {
      return null;
    }
  }

  private static boolean isRedirect(int status) {
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
  }

  /**
   * The call for the page after {@code response}'s, if its {@code Link} names one. A link under
   * one of the upstream's urls may be asked of any of them; one elsewhere only where it points.
   */
  private Optional<Call> nextPage(Call page, HttpResponse<?> response) {
    return nextLink(response.request().uri(), response.headers()).map(link -> settings.mirror().identified(link, host())).map(next -> {
      String link = next.toString();
      for (URI url : urls.all()) {
        if (link.startsWith(url + "/")) {
          return page.atPath(link.substring(url.toString().length()));
        }
      }
      return page.fixedAt(next);
    });
  }

  private static Optional<URI> nextLink(URI current, HttpHeaders headers) {
    for (String link : headers.allValues("Link")) {
      int open = link.indexOf('<');
      int close = link.indexOf('>');
      if (open >= 0 && close > open && link.substring(close).contains("rel=\"next\"")) {
        return Optional.of(current.resolve(link.substring(open + 1, close)));
      }
    }
    return Optional.empty();
  }

  /** {@code /v2/<repository>/<kind>/<last>}: at a mirror, with the registry meant named. */
  private String path(RepositoryName repository, String kind, String last) {
    return settings.mirror().path(host(), repository, kind + "/" + last);
  }

  /**
   * One logical request; redirects produce new calls that remember they left the registry.
   *
   * @param path what follows the upstream's url ({@code /v2/…}), so the call can go to any of
   *     them; null for a call fixed at {@code uri} (a page link outside every url)
   * @param url the index of the url the call goes to, or went to before a redirect
   */
  private record Call(
      String method, URI uri, RepositoryName repository, List<String> accept, String range,
      boolean followsRedirects, boolean offOrigin, boolean streamed, String path, int url) {

    static Call get(String path, RepositoryName repository) {
      return new Call("GET", null, repository, List.of(), null, false, false, false, path, 0);
    }

    static Call head(String path, RepositoryName repository) {
      return new Call("HEAD", null, repository, List.of(), null, false, false, false, path, 0);
    }

    boolean hasPath() {
      return path != null;
    }

    /** This call sent to the url at {@code index}, as it was before any redirect; a fixed call stays where it is. */
    Call at(int index, UpstreamUrls urls) {
      if (path == null) {
        return this;
      }
      return new Call(method, URI.create(urls.get(index) + path), repository, accept, range, followsRedirects, false,
          streamed, path, index);
    }

    /** Another page of a list, under whichever url is chosen for it. */
    Call atPath(String pagePath) {
      return new Call(method, null, repository, accept, range, followsRedirects, false, streamed, pagePath, url);
    }

    /** Another page of a list, at a link outside the upstream's urls: asked there only. */
    Call fixedAt(URI page) {
      return new Call(method, page, repository, accept, range, followsRedirects, offOrigin, streamed, null, url);
    }

    Call withAccept(List<String> types) {
      return new Call(method, uri, repository, types, range, followsRedirects, offOrigin, streamed, path, url);
    }

    Call withRange(String value) {
      return new Call(method, uri, repository, accept, value, followsRedirects, offOrigin, streamed, path, url);
    }

    Call followingRedirects() {
      return new Call(method, uri, repository, accept, range, true, offOrigin, streamed, path, url);
    }

    /** A body streamed to its reader, who resumes it after a connection failure: not re-sent here. */
    Call asStream() {
      return new Call(method, uri, repository, accept, range, followsRedirects, offOrigin, true, path, url);
    }

    /** A redirect to another host (a CDN) must not receive the registry's credentials. */
    Call redirectedTo(URI target) {
      boolean sameOrigin = !offOrigin
          && target.getHost() != null
          && target.getHost().equalsIgnoreCase(uri.getHost())
          && target.getPort() == uri.getPort()
          && target.getScheme().equalsIgnoreCase(uri.getScheme());
      return new Call(method, target, repository, accept, range, followsRedirects, !sameOrigin, streamed, path, url);
    }

    HttpRequest toRequest(String authorization, Duration timeout) {
      HttpRequest.Builder builder = HttpRequest.newBuilder(uri)
          .timeout(timeout)
          .method(method, HttpRequest.BodyPublishers.noBody());
      if ("http".equalsIgnoreCase(uri.getScheme())) {
        // Plain-text HTTP/2 would mean an h2c upgrade attempt on every connection: skip it.
        builder.version(HttpClient.Version.HTTP_1_1);
      }
      if (!accept.isEmpty()) {
        builder.header("Accept", String.join(", ", accept));
      }
      if (range != null) {
        builder.header("Range", range);
      }
      if (authorization != null) {
        builder.header("Authorization", authorization);
      }
      return builder.build();
    }
  }
}
