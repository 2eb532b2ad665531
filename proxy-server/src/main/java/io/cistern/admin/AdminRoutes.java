package io.cistern.admin;

import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Optional;
import java.util.Set;

/**
 * The admin listener's route table: exact paths, each with endpoints per method. Built by the
 * composition root before the listener starts and read-only after, so lookups need no lock.
 */
public final class AdminRoutes {

  private final Map<String, Map<String, AdminEndpoint>> byPath = new LinkedHashMap<>();

  /** Adds {@code method path}; a path may have several methods, each only once. */
  public AdminRoutes add(String method, String path, AdminEndpoint endpoint) {
    Map<String, AdminEndpoint> methods = byPath.computeIfAbsent(path, ignored -> new LinkedHashMap<>());
    if (methods.putIfAbsent(method, endpoint) != null) {
      throw new IllegalArgumentException(method + " " + path + " is routed twice");
    }
    return this;
  }

  public AdminRoutes get(String path, AdminEndpoint endpoint) {
    return add("GET", path, endpoint);
  }

  /** The endpoints of {@code path} by method; empty for an unknown path. */
  Optional<Map<String, AdminEndpoint>> find(String path) {
    return Optional.ofNullable(byPath.get(path));
  }

  public Set<String> paths() {
    return byPath.keySet();
  }
}
