package io.cistern.http;

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
    // The last two slashes (three for an upload's id) split off the segments that name the
    // endpoint; what is before them is the repository. Found from the end, with no array of
    // segments: every request parses. (lastIndexOf from -1 finds nothing.)
    int beforeLast = rest.lastIndexOf('/');
    int beforeSecond = rest.lastIndexOf('/', beforeLast - 1);
    if (beforeLast < 0 || beforeSecond < 0) {
      return new Unknown(path);
    }
    int beforeThird = rest.lastIndexOf('/', beforeSecond - 1);
    String last = rest.substring(beforeLast + 1);
    String second = rest.substring(beforeSecond + 1, beforeLast);
    String third = beforeThird < 0 ? null : rest.substring(beforeThird + 1, beforeSecond);
    if (second.equals("tags") && last.equals("list")) {
      return new TagList(rest.substring(0, beforeSecond));
    }
    if (third != null && second.equals("uploads") && third.equals("blobs")) {
      return new Upload(rest.substring(0, beforeThird));
    }
    if (last.equals("uploads") && second.equals("blobs")) {
      return new Upload(rest.substring(0, beforeSecond));
    }
    if (!last.isEmpty()) {
      String name = rest.substring(0, beforeSecond);
      switch (second) {
        case "manifests":
          return new Manifest(name, last);
        case "blobs":
          return new Blob(name, last);
        case "referrers":
          return new Referrers(name, last);
        default:
          break;
      }
    }
    return new Unknown(path);
  }
}
