package io.cistern.proxy;

import com.github.benmanes.caffeine.cache.AsyncCache;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import io.cistern.upstream.UpstreamErrors;
import io.cistern.upstream.UpstreamRouter.Route;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Function;
import java.util.function.Supplier;

/**
 * Work run once per key at a time, its future shared by every caller who asks meanwhile, in a
 * Caffeine {@link AsyncCache} that holds only what is in flight.
 *
 * <p>The work is started inside Caffeine's compute, with the map's bin locked, so it must only
 * start something and return its future (anything blocking hops to an executor inside it). The
 * entry's removal is registered after {@code get} returns, never inside the compute: work that
 * is over by then would remove its entry from inside the compute, a recursive update that fails
 * and leaves the entry behind for good.
 */
final class SingleFlight {

  private SingleFlight() {}

  /** Runs {@code work} once per key at a time; the entry leaves the map when its future completes. */
  static <K, V> CompletableFuture<V> join(AsyncCache<K, V> inFlight, K key, Supplier<CompletableFuture<V>> work) {
    return join(inFlight, key, work, value -> CompletableFuture.completedFuture(null));
  }

  /**
   * Runs {@code work} once per key at a time; the entry stays in the map, for later callers to
   * join, until the future {@code heldUntil} gives for its value completes (a download to follow
   * until it ends). A failed or null value leaves at once.
   */
  static <K, V> CompletableFuture<V> join(AsyncCache<K, V> inFlight, K key, Supplier<CompletableFuture<V>> work,
      Function<V, CompletionStage<?>> heldUntil) {
    while (true) {
      boolean[] started = {false};
      CompletableFuture<V> shared = inFlight.get(key, (k, executor) -> {
        started[0] = true;
        return work.get();
      });
      if (started[0]) {
        shared.whenComplete((value, failure) -> {
          if (failure != null || value == null) {
            inFlight.asMap().remove(key, shared);
          } else {
            heldUntil.apply(value).whenComplete((ignored, alsoIgnored) -> inFlight.asMap().remove(key, shared));
          }
        });
        return shared;
      }
      if (!failed(shared, heldUntil)) {
        return shared;
      }
      // A failed flight still in the map: its removal runs on the thread that failed it, and may
      // run after that thread answered its own callers (a future runs its dependents newest
      // first), who can be back already. Joining it would hand them its failure again; start anew.
      // (A flight that ended well is joined: its result is as good as a new one.)
      inFlight.asMap().remove(key, shared);
    }
  }

  private static <V> boolean failed(CompletableFuture<V> shared, Function<V, CompletionStage<?>> heldUntil) {
    if (!shared.isDone()) {
      return false;
    }
    if (shared.isCompletedExceptionally()) {
      return true;
    }
    V value = shared.join();
    return value != null && heldUntil.apply(value).toCompletableFuture().isCompletedExceptionally();
  }

  /** As {@link #joinByRoute(AsyncCache, Object, Route, Function, Function)}, out of the map when its future completes. */
  static <K, V> CompletableFuture<V> joinByRoute(AsyncCache<K, V> inFlight, K key, Route route,
      Function<Route, CompletableFuture<V>> work) {
    return joinByRoute(inFlight, key, route, work, value -> CompletableFuture.completedFuture(null), true);
  }

  /**
   * As {@link #join(AsyncCache, Object, Supplier, Function)} for content-addressed work done
   * through a route (an upstream and repository): the content is the same whichever route fetches
   * it, so callers of every route share one flight; but a refusal (401, 403, 404) is the route's
   * own. A caller who joined a flight that another route's refusal ended tries once with its own.
   */
  static <K, V> CompletableFuture<V> joinByRoute(AsyncCache<K, V> inFlight, K key, Route route,
      Function<Route, CompletableFuture<V>> work, Function<V, CompletionStage<?>> heldUntil) {
    return joinByRoute(inFlight, key, route, work, heldUntil, true);
  }

  private static <K, V> CompletableFuture<V> joinByRoute(AsyncCache<K, V> inFlight, K key, Route route,
      Function<Route, CompletableFuture<V>> work, Function<V, CompletionStage<?>> heldUntil, boolean mayRetry) {
    CompletableFuture<V> shared = join(inFlight, key,
        () -> work.apply(route).exceptionallyCompose(failure -> CompletableFuture.failedFuture(RouteRefusal.of(route, failure))),
        heldUntil);
    return shared.exceptionallyCompose(failure -> {
      if (!(UpstreamErrors.unwrap(failure) instanceof RouteRefusal refusal)) {
        return CompletableFuture.failedFuture(failure);
      }
      if (mayRetry && !refusal.isFor(route)) {
        // The failed entry may still be in the map (its removal can run after this): take it
        // out, or the retry would join it again.
        inFlight.asMap().remove(key, shared);
        return joinByRoute(inFlight, key, route, work, heldUntil, false);
      }
      return CompletableFuture.failedFuture(refusal.getCause());
    });
  }

  /** A flight's refusal by the upstream of the route it ran for; its callers see only the cause. */
  private static final class RouteRefusal extends RuntimeException {

    private final String host;
    private final RepositoryName repository;

    private RouteRefusal(Route route, RegistryException refusal) {
      super(refusal.getMessage(), refusal, false, false);
      this.host = route.upstream().host();
      this.repository = route.repository();
    }

    /** The failure as its callers should see it: marked with its route if only that route may be refused. */
    static Throwable of(Route route, Throwable failure) {
      Throwable cause = UpstreamErrors.unwrap(failure);
      if (cause instanceof RegistryException refusal
          && (refusal.status() == 401 || refusal.status() == 403 || refusal.status() == 404)) {
        return new RouteRefusal(route, refusal);
      }
      return failure;
    }

    boolean isFor(Route route) {
      return host.equals(route.upstream().host()) && repository.equals(route.repository());
    }
  }
}
