package io.cistern.upstream;

import io.cistern.oci.RepositoryName;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * What an upstream's url is: the registry itself, or a mirror of many registries (another
 * Cistern: a site cache behind which node caches sit) that must be told which registry a request
 * means, in one of the two ways mirror clients tell it ({@link UpstreamRouter}).
 */
public enum Mirror {

  /** The registry itself: {@code /v2/<name>/…}. */
  NONE,

  /** A mirror told by a query parameter: {@code /v2/<name>/…?ns=<host>}, as containerd's {@code hosts.toml} does. */
  NS,

  /** A mirror told by a path prefix: {@code /v2/<host>/<name>/…}, as CRI-O and podman's {@code registries.conf} do. */
  PREFIX;

  /**
   * The {@code mirror} key's value: {@code ns}, {@code prefix}, or null for none.
   *
   * @throws IllegalArgumentException for anything else
   */
  public static Mirror parse(String value) {
    if (value == null) {
      return NONE;
    }
    return switch (value.trim().toLowerCase(Locale.ROOT)) {
      case "ns" -> NS;
      case "prefix" -> PREFIX;
      default -> throw new IllegalArgumentException("must be ns or prefix (or left out for a registry), not '" + value + "'");
    };
  }

  /** The repository name as this url knows it: with its registry's host in front for a prefix mirror. */
  public String repository(String host, RepositoryName repository) {
    return this == PREFIX ? host + "/" + repository : repository.toString();
  }

  /** The path and query of {@code /v2/<name>/<rest>} at this url, {@code host} being the registry meant. */
  public String path(String host, RepositoryName repository, String rest) {
    String path = "/v2/" + repository(host, repository) + "/" + rest;
    return this == NS ? path + "?ns=" + encoded(host) : path;
  }

  /**
   * A page link ({@code Link: <…>; rel="next"}) this mirror sent, still naming {@code host}: a link
   * without the {@code ns} it was asked with would reach the mirror's default registry.
   */
  public URI identified(URI link, String host) {
    if (this != NS) {
      return link;
    }
    String query = link.getRawQuery();
    if (query != null && ("&" + query).contains("&ns=")) {
      return link;
    }
    String ns = "ns=" + encoded(host);
    String target = link.toString();
    int fragment = target.indexOf('#');
    String head = fragment < 0 ? target : target.substring(0, fragment);
    String tail = fragment < 0 ? "" : target.substring(fragment);
    return URI.create(head + (query == null ? "?" : "&") + ns + tail);
  }

  private static String encoded(String host) {
    return URLEncoder.encode(host, StandardCharsets.UTF_8);
  }
}
