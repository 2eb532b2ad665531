package io.cistern.admin;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;

/** An admin listener's answer, whole in memory. */
public record AdminResponse(int status, String contentType, byte[] body) {

  private static final ObjectMapper JSON = new ObjectMapper();

  public static AdminResponse text(int status, String body) {
    return new AdminResponse(status, "text/plain; charset=utf-8", body.getBytes(StandardCharsets.UTF_8));
  }

  /** {@code value} serialised with Jackson. */
  public static AdminResponse json(int status, Object value) {
    try {
      return new AdminResponse(status, "application/json", JSON.writeValueAsBytes(value));
    } catch (JsonProcessingException e) {
      throw new IllegalArgumentException("cannot serialise " + value.getClass().getSimpleName(), e);
    }
  }
}
