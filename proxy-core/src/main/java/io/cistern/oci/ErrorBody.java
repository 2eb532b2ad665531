package io.cistern.oci;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;

/** Renders the distribution spec's error body: {@code {"errors":[{"code","message","detail"}]}}. */
public final class ErrorBody {

  private static final ObjectMapper JSON = new ObjectMapper();

  private ErrorBody() {}

  public static byte[] render(ErrorCode code, String message) {
    Map<String, Object> error = Map.of("code", code.name(), "message", message == null ? "" : message, "detail", Map.of());
    try {
      return JSON.writeValueAsBytes(Map.of("errors", List.of(error)));
    } catch (JsonProcessingException e) {
      // A map of strings always serialises; keep a valid body even so.
      return ("{\"errors\":[{\"code\":\"" + code.name() + "\"}]}").getBytes(StandardCharsets.UTF_8);
    }
  }
}
