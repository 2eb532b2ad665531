package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.RepositoryName;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Consumer;

/**
 * The cached tags ({@link TagRows}): what a pull learned a tag points at, and which manifests each
 * repository holds. A change an operator makes behind a running server's back (an import, a
 * purge) is told to the tag listeners, so that no memory cache keeps serving the old mapping.
 */
public final class Tags {

  private final TagRows rows;
  private final StorageFailures failures;
  private final List<Consumer<TagKey>> listeners = new CopyOnWriteArrayList<>();

  Tags(TagRows rows, StorageFailures failures) {
    this.rows = rows;
    this.failures = failures;
  }

  public Optional<TagMapping> find(TagKey key) {
    return rows.find(key);
  }

  /** Records what a pull learned: the tag points at the manifest, which its repository holds. */
  public void put(TagMapping mapping) {
    failures.recording(() -> rows.put(mapping));
  }

  /**
   * Points a tag at a manifest on an operator's behalf (an import), and tells the tag listeners,
   * so that a running server drops what it remembered of the tag.
   */
  public void replace(TagMapping mapping) {
    rows.put(mapping);
    listeners.forEach(listener -> listener.accept(mapping.key()));
  }

  /** Registers a callback told of tags an operator changed or removed (to drop them from memory caches). */
  public void onTagChange(Consumer<TagKey> listener) {
    listeners.add(listener);
  }

  /** Records that {@code repository} at {@code upstream} holds the manifest {@code digest} (a pull by digest). */
  public void link(String upstream, RepositoryName repository, Digest digest) {
    failures.recording(() -> rows.link(upstream, repository, digest));
  }

  /** The cached tags of a repository, sorted. */
  public List<String> tagsOf(String upstream, RepositoryName repository) {
    return rows.tagsOf(upstream, repository);
  }

  /** Deletes a tag on an operator's behalf and tells the listeners (see {@link TagRows#delete}). */
  Optional<TagRows.UntaggedManifest> delete(TagKey key) {
    Optional<TagRows.UntaggedManifest> untagged = rows.delete(key);
    untagged.ifPresent(ignored -> listeners.forEach(listener -> listener.accept(key)));
    return untagged;
  }
}
