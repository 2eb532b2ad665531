package io.cistern.proxy;

import io.cistern.cache.Ingest;
import io.cistern.oci.Digest;
import io.cistern.upstream.UpstreamRouter.Route;
import java.util.concurrent.CompletableFuture;

/** Starts fetching a blob the local tier misses; the single flight runs it once per digest at a time. */
@FunctionalInterface
interface BlobFetcher {

  /** Starts the fetch; the future completes once its bytes can be followed. */
  CompletableFuture<Ingest> start(Route route, Digest digest, Caller caller);

  /** Whether a blob of an upstream that may not be asked (offline) can still be had elsewhere. */
  default boolean fillsOffline() {
    return false;
  }
}
