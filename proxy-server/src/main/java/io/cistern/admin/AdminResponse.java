package io.cistern.admin;

import io.cistern.oci.Json;
import java.nio.charset.StandardCharsets;

/** An admin listener's answer, whole in memory. */
public record AdminResponse(int status, String contentType, byte[] body) {

  public static AdminResponse text(int status, String body) {
    return new AdminResponse(status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
  }

  /** {@code value} serialised with Jackson. */
  public static AdminResponse json(int status, Object value) {
    return new AdminResponse(status, "application/json", Json.bytes(value));
  }
}
