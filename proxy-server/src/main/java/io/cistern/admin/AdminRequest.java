package io.cistern.admin;

import java.util.List;
import java.util.Map;

/**
 * A request to the admin listener, as its endpoints read it: whole (admin requests are small).
 * Method, path and headers are the handler's and the guard's business, not the endpoints'.
 *
 * @param parameters the query's parameters
 */
public record AdminRequest(Map<String, List<String>> parameters, byte[] body) {

  /** The first value of query parameter {@code name}, or null. */
  public String parameter(String name) {
    List<String> values = parameters.get(name);
    return values == null || values.isEmpty() ? null : values.get(0);
  }
}
