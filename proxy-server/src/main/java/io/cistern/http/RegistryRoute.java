package io.cistern.http;

import java.util.Arrays;

/**
 * The registry v2 endpoints, recognised from the path alone. The repository name is kept raw
 * here: it may carry an upstream prefix ({@code ghcr.io/org/app}), which the upstream router
 * strips before validating what is left.
 *
 * <p>A name may itself contain {@code manifests} or {@code blobs} as a component, so the path is
 * read from its end, where the grammar is unambiguous: references and digests hold no slash.
 */
public sealed interface RegistryRoute {

  /** {@code /v2/}: the API version check. */
  record Base() implements RegistryRoute {}

  record Manifest(String name, String reference) implements RegistryRoute {}

  record Blob(String name, String digest) implements RegistryRoute {}

  record TagList(String name) implements RegistryRoute {}

  record Referrers(String name, String digest) implements RegistryRoute {}

  /** {@code /v2/<name>/blobs/uploads/…}: push, which a pull-through cache does not take. */
  record Upload(String name) implements RegistryRoute {}

  record Catalog() implements RegistryRoute {}

  record Unknown(String path) implements RegistryRoute {}

  static RegistryRoute parse(String path) {
    if (path.equals("/v2") || path.equals("/v2/")) {
      return new Base();
    }
    if (!path.startsWith("/v2/")) {
      return new Unknown(path);
    }
    String rest = path.substring("/v2/".length());
    if (rest.equals("_catalog")) {
      return new Catalog();
    }
    String[] segments = rest.split("/", -1);
    int n = segments.length;
    if (n >= 3 && segments[n - 2].equals("tags") && segments[n - 1].equals("list")) {
      return new TagList(join(segments, n - 2));
    }
    if (n >= 4 && segments[n - 2].equals("uploads") && segments[n - 3].equals("blobs")) {
      return new Upload(join(segments, n - 3));
    }
    if (n >= 3 && segments[n - 1].equals("uploads") && segments[n - 2].equals("blobs")) {
      return new Upload(join(segments, n - 2));
    }
    if (n >= 3 && !segments[n - 1].isEmpty()) {
      String name = join(segments, n - 2);
      switch (segments[n - 2]) {
        case "manifests":
          return new Manifest(name, segments[n - 1]);
        case "blobs":
          return new Blob(name, segments[n - 1]);
        case "referrers":
          return new Referrers(name, segments[n - 1]);
        default:
          break;
      }
    }
    return new Unknown(path);
  }

  private static String join(String[] segments, int count) {
    return String.join("/", Arrays.copyOfRange(segments, 0, count));
  }
}
