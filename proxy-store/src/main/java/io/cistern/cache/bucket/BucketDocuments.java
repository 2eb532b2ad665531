package io.cistern.cache.bucket;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import software.amazon.awssdk.core.async.AsyncRequestBody;

/**
 * Small JSON documents in the bucket, beside the blobs: tag mappings with their fetch times, shared
 * by the members of a cluster. Unlike blobs they change, so writes are conditional on the version
 * read: {@code If-None-Match: *} to create, {@code If-Match: <etag>} to replace. Where the store
 * performs If-Match atomically (AWS S3, MinIO, Ceph RGW) a replace is a compare-and-swap; on
 * s3proxy it is a check followed by a write, so two replaces from one version can both win (the
 * README's "A cluster of Cisterns" says what each store does).
 */
public final class BucketDocuments {

  /** Documents are tag mappings and the like; a cap keeps a bad caller from writing a blob here. */
  public static final int MAX_BYTES = 1 << 20;

  private static final String JSON = "application/json";

  private final ObjectRequests requests;
  private final BucketKeys keys;

  BucketDocuments(ObjectRequests requests, BucketKeys keys) {
    this.requests = requests;
    this.keys = keys;
  }

  /**
   * The document {@code name} with its ETag; empty when there is none.
   *
   * @param name a relative name such as {@code tags/docker.io/library/alpine/latest.json}: letters,
   *     digits and {@code ._-:@+}, in segments separated by {@code /}; {@code blobs/} is the blobs'
   */
  public CompletableFuture<Optional<StoredDocument>> read(String name) {
    return requests.getBytes(key(name), null)
        .thenApply(found -> found.map(object -> new StoredDocument(object.asByteArray(), object.response().eTag())));
  }

  /**
   * Writes the document {@code name} unless it exists.
   *
   * @return the new ETag, or empty when a document of that name was there already
   */
  public CompletableFuture<Optional<String>> create(String name, byte[] json) {
    return requests.conditionalPut(key(name), body(json), json.length, null, JSON);
  }

  /**
   * Replaces the document {@code name} if it is still the version {@code etag} names.
   *
   * @return the new ETag, or empty when the document changed or went away since {@code etag}
   */
  public CompletableFuture<Optional<String>> replace(String name, byte[] json, String etag) {
    if (etag == null || etag.isEmpty()) {
      throw new IllegalArgumentException("a replace names the ETag it read");
    }
    return requests.conditionalPut(key(name), body(json), json.length, etag, JSON);
  }

  /** Removes the document {@code name}; removing one that is not there succeeds too. */
  public CompletableFuture<Void> delete(String name) {
    return requests.delete(key(name));
  }

  /**
   * The names of the documents under {@code folder} (such as {@code pins}), at any depth, as
   * {@link #read} takes them. Lists every page: for folders of a few thousand documents at most.
   */
  public CompletableFuture<List<String>> list(String folder) {
    String root = keys.named(folder) + "/";
    int relative = root.length() - folder.length() - 1;
    key(folder);
    return requests.list(root).thenApply(listed -> listed.stream().map(key -> key.substring(relative)).toList());
  }

  private String key(String name) {
    if (name == null || name.isEmpty() || name.startsWith("/") || name.endsWith("/")
        || name.startsWith("blobs/") || name.startsWith("pinned/") || name.equals("blobs") || name.equals("pinned") || name.length() > 512) {
      throw new IllegalArgumentException("not a document name: " + name);
    }
    for (String segment : name.split("/", -1)) {
      if (segment.isEmpty() || segment.equals(".") || segment.equals("..")) {
        throw new IllegalArgumentException("not a document name: " + name);
      }
    }
    for (int i = 0; i < name.length(); i++) {
      char c = name.charAt(i);
      if (!(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || "._-/:@+".indexOf(c) >= 0)) {
        throw new IllegalArgumentException("not a document name: " + name);
      }
    }
    return keys.named(name);
  }

  private static AsyncRequestBody body(byte[] json) {
    if (json.length > MAX_BYTES) {
      throw new IllegalArgumentException("a document of " + json.length + " bytes is over the cap of " + MAX_BYTES);
    }
    return AsyncRequestBody.fromBytes(json);
  }
}
