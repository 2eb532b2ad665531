package io.cistern.admin;

import io.cistern.oci.Json;
import io.cistern.ops.OperatorRequests.Failure;
import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.Map;

/**
 * An admin listener's answer, whole in memory.
 *
 * @param headers besides Content-Type and Content-Length, which the handler sets
 */
public record AdminResponse(int status, String contentType, byte[] body, Map<String, String> headers) {

  public AdminResponse {
    headers = Map.copyOf(headers);
  }

  public AdminResponse(int status, String contentType, byte[] body) {
    this(status, contentType, body, Map.of());
  }

  public static AdminResponse text(int status, String body) {
    return new AdminResponse(status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
  }

  /** {@code value} serialised with Jackson. */
  public static AdminResponse json(int status, Object value) {
    return new AdminResponse(status, "application/json", Json.bytes(value));
  }

  /** The admin API's error format: {@code {"error": message}}. */
  public static AdminResponse error(int status, String message) {
    return json(status, new Failure(message));
  }

  public AdminResponse withHeader(String name, String value) {
    Map<String, String> more = new HashMap<>(headers);
    more.put(name, value);
    return new AdminResponse(status, contentType, body, more);
  }
}
