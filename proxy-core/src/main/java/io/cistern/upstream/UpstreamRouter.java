package io.cistern.upstream;

import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.oci.RepositoryName;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Decides which configured upstream a request means, in the three ways mirror clients say it:
 * <ol>
 *   <li>{@code ?ns=ghcr.io} (containerd {@code hosts.toml} mirrors);
 *   <li>a path prefix, {@code /v2/ghcr.io/org/app/…} (CRI-O and podman {@code registries.conf});
 *   <li>nothing (the docker daemon's {@code registry-mirrors}): the default upstream.
 * </ol>
 * Only configured upstreams are ever chosen: an unknown {@code ns} is refused here, before any
 * outbound connection could be made. Docker Hub's single-component names get {@code library/}.
 */
public final class UpstreamRouter {

  /** A request's upstream and the repository name to ask it for. */
  public record Route(Upstream upstream, RepositoryName repository) {}

  private final Map<String, Upstream> byHost = new LinkedHashMap<>();
  private final Upstream defaultUpstream;

  public UpstreamRouter(List<Upstream> upstreams, String defaultHost) {
    for (Upstream upstream : upstreams) {
      if (byHost.put(upstream.host(), upstream) != null) {
        throw new IllegalArgumentException("upstream " + upstream.host() + " is configured twice");
      }
    }
    if (byHost.isEmpty()) {
      defaultUpstream = null;
    } else if (defaultHost == null) {
      defaultUpstream = upstreams.get(0);
    } else {
      defaultUpstream = byHost.get(defaultHost);
      if (defaultUpstream == null) {
        throw new IllegalArgumentException("the default upstream " + defaultHost + " is not among the configured upstreams");
      }
    }
  }

  /**
   * Routes the name from a {@code /v2/<name>/…} path.
   *
   * @param namespace the {@code ns} query parameter, or null
   * @throws RegistryException NAME_UNKNOWN for an upstream Cistern does not mirror, NAME_INVALID
   *     for a bad repository name
   */
  public Route route(String name, String namespace) {
    if (namespace != null && !namespace.isEmpty()) {
      Upstream upstream = byHost.get(namespace.toLowerCase(java.util.Locale.ROOT));
      if (upstream == null) {
        throw new RegistryException(ErrorCode.NAME_UNKNOWN, "Cistern mirrors no upstream named '" + namespace + "'");
      }
      return new Route(upstream, normalise(upstream, name));
    }
    int slash = name.indexOf('/');
    if (slash > 0) {
      Upstream prefixed = byHost.get(name.substring(0, slash));
      if (prefixed != null) {
        return new Route(prefixed, normalise(prefixed, name.substring(slash + 1)));
      }
    }
    if (defaultUpstream == null) {
      throw new RegistryException(ErrorCode.NAME_UNKNOWN, "Cistern has no upstream configured");
    }
    return new Route(defaultUpstream, normalise(defaultUpstream, name));
  }

  public Optional<Upstream> upstream(String host) {
    return Optional.ofNullable(byHost.get(host));
  }

  public List<Upstream> upstreams() {
    return List.copyOf(byHost.values());
  }

  private static RepositoryName normalise(Upstream upstream, String name) {
    RepositoryName repository = RepositoryName.of(name);
    if (upstream.client().settings().isDockerHub() && repository.isSingleComponent()) {
      return RepositoryName.of("library/" + name);
    }
    return repository;
  }
}
