package io.cistern.oci;

import java.time.Duration;
import java.util.Optional;

/**
 * A failure that reaches a client as an OCI error body: {@code {"errors":[{code, message}]}} with
 * an HTTP status. Thrown wherever the cause is known; the HTTP layer turns it into a response, so
 * no code path needs to know about JSON or status lines.
 */
public final class RegistryException extends RuntimeException {

  private final ErrorCode code;
  private final int status;
  private final Duration retryAfter;

  public RegistryException(ErrorCode code, String message) {
    this(code, code.status(), message, null, null);
  }

  public RegistryException(ErrorCode code, int status, String message, Duration retryAfter, Throwable cause) {
    super(message, cause, false, false);
    this.code = code;
    this.status = status;
    this.retryAfter = retryAfter;
  }

  public ErrorCode code() {
    return code;
  }

  public int status() {
    return status;
  }

  /** How long the client should wait before retrying, when an upstream said so (429, 503). */
  public Optional<Duration> retryAfter() {
    return Optional.ofNullable(retryAfter);
  }
}
