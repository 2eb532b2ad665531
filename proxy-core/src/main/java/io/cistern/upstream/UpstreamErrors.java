package io.cistern.upstream;

import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpHeaders;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.time.format.DateTimeParseException;
import java.util.Optional;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/**
 * Turns what an upstream did into what a client is told: the upstream's status as an OCI error
 * (a 429 keeps its {@code Retry-After}), and network failures as 502/504, never a 500.
 */
public final class UpstreamErrors {

  private UpstreamErrors() {}

  /** The error for a non-2xx upstream answer. */
  public static RegistryException forStatus(String host, int status, HttpHeaders headers, ErrorCode notFound) {
    Duration retryAfter = retryAfter(headers).orElse(null);
    String message = "upstream " + host + " answered " + status;
    return switch (status) {
      case 404 -> new RegistryException(notFound, 404, message, null, null);
      case 401 -> new RegistryException(ErrorCode.UNAUTHORIZED, 401, message + ": Cistern is not authorised there", null, null);
      case 403 -> new RegistryException(ErrorCode.DENIED, 403, message, null, null);
      case 429 -> new RegistryException(ErrorCode.TOOMANYREQUESTS, 429, message, retryAfter, null);
      case 416 -> new RegistryException(ErrorCode.RANGE_INVALID, 416, message, null, null);
      default -> status >= 500
          ? new RegistryException(ErrorCode.UNAVAILABLE, status == 500 ? 502 : status, message, retryAfter, null)
          : new RegistryException(ErrorCode.UNKNOWN, status >= 400 ? status : 502, message, null, null);
    };
  }

  /** The error for a failed exchange: keeps a {@link RegistryException}, maps network failures. */
  public static RegistryException forFailure(String host, Throwable failure) {
    Throwable cause = unwrap(failure);
    if (cause instanceof RegistryException registryException) {
      return registryException;
    }
    if (cause instanceof HttpConnectTimeoutException || cause instanceof ConnectException) {
      return new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream " + host + " is unreachable", null, cause);
    }
    if (cause instanceof HttpTimeoutException) {
      return new RegistryException(ErrorCode.UNAVAILABLE, 504, "upstream " + host + " timed out", null, cause);
    }
    if (cause instanceof IOException) {
      return new RegistryException(ErrorCode.UNAVAILABLE, 502,
          "upstream " + host + " failed: " + cause.getClass().getSimpleName(), null, cause);
    }
    return new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream " + host + " failed", null, cause);
  }

  /** Strips the wrappers {@link java.util.concurrent.CompletableFuture} adds. */
  public static Throwable unwrap(Throwable failure) {
    Throwable cause = failure;
    while ((cause instanceof CompletionException || cause instanceof ExecutionException) && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }

  /** {@code Retry-After} as seconds or as an HTTP date. */
  public static Optional<Duration> retryAfter(HttpHeaders headers) {
    return headers.firstValue("Retry-After").flatMap(UpstreamErrors::parseRetryAfter);
  }

  static Optional<Duration> parseRetryAfter(String value) {
    String text = value.trim();
    try {
      long seconds = Long.parseLong(text);
      return seconds < 0 ? Optional.empty() : Optional.of(Duration.ofSeconds(seconds));
    } catch (NumberFormatException notSeconds) {
      try {
        Duration until = Duration.between(ZonedDateTime.now(), ZonedDateTime.parse(text, DateTimeFormatter.RFC_1123_DATE_TIME));
        return Optional.of(until.isNegative() ? Duration.ZERO : until);
      } catch (DateTimeParseException notADate) {
        return Optional.empty();
      }
    }
  }
}
