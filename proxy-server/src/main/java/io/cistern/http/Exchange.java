package io.cistern.http;

import io.cistern.cache.FillSource;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * One request on its way to an answer: the request with its route, read once from its path.
 * {@link RegistryApi} notes what it learnt (the upstream, whether the cache answered, who asked);
 * {@link ExchangeRecorder} notes what was written and reports the whole once the answer has ended.
 *
 * <p>Threads: the API's notes may be written on whichever thread completes its future; they are
 * read on the connection's event loop after that future has completed, so volatile fields are
 * enough. The recorder's fields are touched on the event loop only.
 */
final class Exchange {

  private final HttpRequest request;
  private final QueryStringDecoder target;
  private final RegistryRoute route;
  private final long startNanos;
  private volatile String upstream;
  private volatile ServedRequest.Cache cache = ServedRequest.Cache.NONE;
  private volatile Supplier<FillSource> fillSource;
  private volatile String user;
  int status;
  long bytes;

  Exchange(HttpRequest request, long startNanos) {
    this.request = request;
    this.startNanos = startNanos;
    this.target = new QueryStringDecoder(request.uri());
    // The raw path: registry names, tags and digests never need percent-decoding, and decoding
    // would let %2F smuggle in path separators.
    this.route = RegistryRoute.parse(target.rawPath());
  }

  HttpRequest request() {
    return request;
  }

  /** The request's path, raw (not percent-decoded). */
  String path() {
    return target.rawPath();
  }

  RegistryRoute route() {
    return route;
  }

  /**
   * The query's parameters, percent-decoded.
   *
   * @throws RegistryException 400 for a query that does not decode ({@code ?ns=%zz})
   */
  Map<String, List<String>> parameters() {
    try {
      return target.parameters();
    } catch (IllegalArgumentException malformed) {
      throw new RegistryException(ErrorCode.UNSUPPORTED, 400, "the query string is not validly percent-encoded", null, null);
    }
  }

  long startNanos() {
    return startNanos;
  }

  void upstream(String host) {
    this.upstream = host;
  }

  String upstream() {
    return upstream;
  }

  void cacheHit(boolean hit) {
    this.cache = hit ? ServedRequest.Cache.HIT : ServedRequest.Cache.MISS;
  }

  ServedRequest.Cache cache() {
    return cache;
  }

  /** Where a miss's bytes come from, asked when the answer ends (a fill may change origin meanwhile). */
  void fillSource(Supplier<FillSource> source) {
    this.fillSource = source;
  }

  FillSource fillSource() {
    Supplier<FillSource> source = fillSource;
    return source == null ? null : source.get();
  }

  void user(String name) {
    this.user = name;
  }

  String user() {
    return user;
  }

  /** The endpoint, named for metric labels: a handful of fixed values, never the raw path. */
  String endpoint() {
    if (route instanceof RegistryRoute.Base) {
      return "base";
    } else if (route instanceof RegistryRoute.Manifest) {
      return "manifest";
    } else if (route instanceof RegistryRoute.Blob) {
      return "blob";
    } else if (route instanceof RegistryRoute.TagList) {
      return "tags";
    } else if (route instanceof RegistryRoute.Referrers) {
      return "referrers";
    } else if (route instanceof RegistryRoute.Catalog) {
      return "catalog";
    } else if (route instanceof RegistryRoute.Upload) {
      return "upload";
    }
    return "unknown";
  }
}
