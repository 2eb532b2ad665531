package io.cistern.admin;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The admin listener's route table: exact paths, each with endpoints per method, each with who
 * may call it. Built by the composition root before the listener starts and read-only after, so
 * lookups need no lock.
 */
public final class AdminRoutes {

  /** One method of one path. */
  record Route(AdminAccess access, AdminEndpoint endpoint) {}

  private final Map<String, Map<String, Route>> byPath = new LinkedHashMap<>();

  /** Adds {@code method path}; a path may have several methods, each only once. */
  public AdminRoutes add(String method, String path, AdminAccess access, AdminEndpoint endpoint) {
    Map<String, Route> methods = byPath.computeIfAbsent(path, ignored -> new LinkedHashMap<>());
    if (methods.putIfAbsent(method, new Route(access, endpoint)) != null) {
      throw new IllegalArgumentException(method + " " + path + " is routed twice");
    }
    return this;
  }

  /** A GET anyone who reaches the port may call ({@link AdminAccess#OPEN}): probes, metrics, the page. */
  public AdminRoutes get(String path, AdminEndpoint endpoint) {
    return add("GET", path, AdminAccess.OPEN, endpoint);
  }

  /** The routes of {@code path} by method; empty for an unknown path. */
  Optional<Map<String, Route>> find(String path) {
    return Optional.ofNullable(byPath.get(path));
  }

  public Set<String> paths() {
    return byPath.keySet();
  }
}
