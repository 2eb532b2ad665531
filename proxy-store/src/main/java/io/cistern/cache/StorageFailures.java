package io.cistern.cache;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Writes failing for a local reason (a full disk): logged when such an episode begins and when it
 * ends, not once per write, whichever writer (a download, a manifest, a tag) meets it.
 */
final class StorageFailures {

  private static final Logger log = LoggerFactory.getLogger(StorageFailures.class);

  private final FailureEpisode episode = new FailureEpisode();

  /** Notes {@code failure}, logging it when it is the first of an episode, and returns it for throwing. */
  LocalStorageException failed(LocalStorageException failure) {
    if (episode.failed()) {
      log.error("the cache cannot store what it fetches: {}. Such content is not cached (a download is not retried "
          + "from the upstream); what is cached is still served. Logged again only after a write has succeeded",
          failure.getMessage());
    }
    return failure;
  }

  /** Notes the local storage failure among {@code failure} and its causes, if there is one. */
  void noteIfLocal(Throwable failure) {
    LocalStorageException.in(failure).ifPresent(this::failed);
  }

  /** Notes a write that succeeded, ending an episode. */
  void succeeded() {
    if (episode.succeeded()) {
      log.info("the cache stores what it fetches again");
    }
  }
}
