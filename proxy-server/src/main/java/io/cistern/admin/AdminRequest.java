package io.cistern.admin;

import io.netty.handler.codec.http.HttpHeaders;
import java.util.List;
import java.util.Map;

/**
 * A request to the admin listener, read whole (admin requests are small).
 *
 * @param path the decoded path, without the query
 * @param parameters the query's parameters
 */
public record AdminRequest(String method, String path, Map<String, List<String>> parameters, HttpHeaders headers, byte[] body) {

  /** The first value of query parameter {@code name}, or null. */
  public String parameter(String name) {
    List<String> values = parameters.get(name);
    return values == null || values.isEmpty() ? null : values.get(0);
  }
}
