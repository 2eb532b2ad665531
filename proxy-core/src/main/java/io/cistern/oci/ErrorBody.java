package io.cistern.oci;

import java.util.List;
import java.util.Map;

/** Renders the distribution spec's error body: {@code {"errors":[{"code","message","detail"}]}}. */
public final class ErrorBody {

  private ErrorBody() {}

  public static byte[] render(ErrorCode code, String message) {
    Map<String, Object> error = Map.of("code", code.name(), "message", message == null ? "" : message, "detail", Map.of());
    return Json.bytes(Map.of("errors", List.of(error)));
  }
}
