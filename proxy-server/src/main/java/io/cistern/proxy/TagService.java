package io.cistern.proxy;

import io.cistern.cache.Tags;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamErrors;
import io.cistern.upstream.UpstreamRouter.Route;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;

/**
 * Tag listing: passed through to the upstream, then sorted and paged by Cistern itself (CNCF
 * Distribution ignores {@code n} and {@code last}). When the upstream is offline or failing, the
 * tags Cistern has cached for the repository are listed instead.
 */
public final class TagService {

  /** One page of tags; {@code next} is the {@code last} value for the following page, or null. */
  public record TagPage(List<String> tags, String next) {}

  private final Tags tags;
  private final Executor storeExecutor;

  public TagService(Tags tags, Executor storeExecutor) {
    this.tags = tags;
    this.storeExecutor = storeExecutor;
  }

  /**
   * @param limit the page size ({@code n}), or null for everything
   * @param last the tag the previous page ended with, or null
   */
  public CompletableFuture<TagPage> list(Route route, Integer limit, String last) {
    Upstream upstream = route.upstream();
    CompletableFuture<List<String>> all = upstream.offline()
        ? cached(route)
        : upstream.client().listTags(route.repository()).exceptionallyCompose(failure ->
            cached(route).thenCompose(tags -> tags.isEmpty()
                ? CompletableFuture.failedFuture(UpstreamErrors.forFailure(upstream.host(), failure))
                : CompletableFuture.completedFuture(tags)));
    return all.thenApply(tags -> page(tags, limit, last));
  }

  private CompletableFuture<List<String>> cached(Route route) {
    return CompletableFuture.supplyAsync(() -> {
      List<String> cached = tags.tagsOf(route.upstream().host(), route.repository());
      if (cached.isEmpty() && route.upstream().offline()) {
        throw new RegistryException(ErrorCode.NAME_UNKNOWN, "no tags of " + route.repository() + " are cached");
      }
      return cached;
    }, storeExecutor);
  }

  static TagPage page(List<String> tags, Integer limit, String last) {
    if (limit != null && limit == 0) {
      return new TagPage(List.of(), null);
    }
    TreeSet<String> sorted = new TreeSet<>(tags);
    Iterable<String> after = last == null ? sorted : sorted.tailSet(last, false);
    List<String> page = new ArrayList<>();
    String next = null;
    for (String tag : after) {
      if (limit != null && page.size() == limit) {
        next = page.get(page.size() - 1);
        break;
      }
      page.add(tag);
    }
    return new TagPage(page, next);
  }
}
