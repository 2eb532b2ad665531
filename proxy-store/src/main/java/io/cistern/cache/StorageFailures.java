package io.cistern.cache;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The log of the cache failing to store what pulls fetch for a local reason (a full disk): one
 * line when such failures begin, one when a write works again, whichever write (a download, a
 * manifest, a tag) meets them. Shared by everything that writes on a request path.
 */
final class StorageFailures {

  private static final Logger log = LoggerFactory.getLogger(StorageFailures.class);

  private final FailureEpisode episode = new FailureEpisode();

  /** Logs a local storage failure when it is the first of an episode, and returns it for throwing. */
  LocalStorageException failed(LocalStorageException failure) {
    if (episode.failed()) {
      log.error("the cache cannot store what it fetches: {}. Such content is not cached (a download is not retried "
          + "from the upstream); what is cached is still served. Logged again only after a write has succeeded",
          failure.getMessage());
    }
    return failure;
  }

  void worked() {
    if (episode.succeeded()) {
      log.info("the cache stores what it fetches again");
    }
  }

  /** Notes the local storage failure among {@code failure} and its causes, if there is one. */
  void noteIfLocal(Throwable failure) {
    LocalStorageException.in(failure).ifPresent(this::failed);
  }

  /** Runs a metadata write on a request path, noting a local storage failure before it is rethrown. */
  void recording(Runnable write) {
    try {
      write.run();
    } catch (MetadataException e) {
      noteIfLocal(e);
      throw e;
    }
  }
}
