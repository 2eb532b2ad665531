package io.cistern.upstream;

import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * Decides which configured upstream a request means, in the three ways mirror clients say it:
 * <ol>
 *   <li>{@code ?ns=ghcr.io} (containerd {@code hosts.toml} mirrors);
 *   <li>a path prefix, {@code /v2/ghcr.io/org/app/…} (CRI-O and podman {@code registries.conf});
 *   <li>nothing (the docker daemon's {@code registry-mirrors}): the default upstream.
 * </ol>
 * Only configured upstreams are ever chosen: an unknown {@code ns}, or a first path component that
 * is a registry host name by Docker's rule (it holds a {@code .} or a {@code :}, or is
 * {@code localhost}) but names no configured upstream, is refused here, before any outbound
 * connection could be made. Docker Hub's single-component names get {@code library/}. Then the
 * upstream's repository rules ({@link RepositoryRules}) decide whether the name is served at all.
 */
public final class UpstreamRouter {

  /** A request's upstream and the repository name to ask it for. */
  public record Route(Upstream upstream, RepositoryName repository) {}

  private final Map<String, Upstream> byHost = new LinkedHashMap<>();
  private final Upstream defaultUpstream;

  /**
   * @param defaultHost the upstream for requests that name none; null for the first one
   * @throws IllegalArgumentException as {@link #check}
   */
  public UpstreamRouter(List<Upstream> upstreams, String defaultHost) {
    int defaultIndex = check(upstreams.stream().map(Upstream::host).toList(), defaultHost);
    for (Upstream upstream : upstreams) {
      byHost.put(upstream.host(), upstream);
    }
    defaultUpstream = defaultIndex < 0 ? null : upstreams.get(defaultIndex);
  }

  /**
   * Checks that upstreams with these (lower-case) host names and this default can be routed to,
   * before any upstream is built.
   *
   * @return the index of the default upstream, or -1 when there is no upstream at all
   * @throws IllegalArgumentException when a host is listed twice, or the default is not listed
   */
  public static int check(List<String> hosts, String defaultHost) {
    Set<String> seen = new HashSet<>();
    for (String host : hosts) {
      if (!seen.add(host)) {
        throw new IllegalArgumentException("upstream " + host + " is configured twice");
      }
    }
    if (hosts.isEmpty()) {
      return -1;
    }
    if (defaultHost == null) {
      return 0;
    }
    int index = hosts.indexOf(defaultHost.trim().toLowerCase(Locale.ROOT));
    if (index < 0) {
      throw new IllegalArgumentException("the default upstream " + defaultHost + " is not among the configured upstreams");
    }
    return index;
  }

  /**
   * Routes the name from a {@code /v2/<name>/…} path, for a client's request or a warm: a name its
   * upstream's repository rules refuse goes no further.
   *
   * @param namespace the {@code ns} query parameter, or null
   * @throws RegistryException NAME_UNKNOWN for an upstream Cistern does not mirror, NAME_INVALID
   *     for a bad repository name, DENIED (403) for a name the upstream's repository rules refuse
   */
  public Route route(String name, String namespace) {
    Route route = routeIgnoringRules(name, namespace);
    Optional<String> refusal = route.upstream().repositories().refusal(route.repository());
    if (refusal.isPresent()) {
      throw new RegistryException(ErrorCode.DENIED, route.upstream().host() + "/" + route.repository()
          + " is not served by this cache: it " + refusal.get() + " of upstream " + route.upstream().host());
    }
    return route;
  }

  /**
   * As {@link #route}, whatever the repository rules say: for operators' work on what is already
   * cached (listing, pinning, purging, exporting it), which never reaches an upstream.
   */
  public Route routeIgnoringRules(String name, String namespace) {
    if (namespace != null && !namespace.isEmpty()) {
      Upstream upstream = configured(namespace);
      return new Route(upstream, normalise(upstream, name));
    }
    int slash = name.indexOf('/');
    if (slash > 0) {
      String first = name.substring(0, slash);
      if (byHost.containsKey(first.toLowerCase(Locale.ROOT)) || isHostName(first)) {
        Upstream prefixed = configured(first);
        return new Route(prefixed, normalise(prefixed, name.substring(slash + 1)));
      }
    }
    if (defaultUpstream == null) {
      throw new RegistryException(ErrorCode.NAME_UNKNOWN, "Cistern has no upstream configured");
    }
    return new Route(defaultUpstream, normalise(defaultUpstream, name));
  }

  public Optional<Upstream> upstream(String host) {
    return Optional.ofNullable(byHost.get(host.toLowerCase(Locale.ROOT)));
  }

  public List<Upstream> upstreams() {
    return List.copyOf(byHost.values());
  }

  private Upstream configured(String host) {
    Upstream upstream = byHost.get(host.toLowerCase(Locale.ROOT));
    if (upstream == null) {
      throw new RegistryException(ErrorCode.NAME_UNKNOWN,
          "Cistern mirrors no upstream named '" + host + "'");
    }
    return upstream;
  }

  /** Docker's rule for telling a registry host from a repository's first path component. */
  private static boolean isHostName(String component) {
    return component.indexOf('.') >= 0 || component.indexOf(':') >= 0 || component.equals("localhost");
  }

  private static RepositoryName normalise(Upstream upstream, String name) {
    RepositoryName repository = RepositoryName.of(name);
    if (upstream.client().settings().isDockerHub() && repository.isSingleComponent()) {
      return RepositoryName.of("library/" + name);
    }
    return repository;
  }
}
