package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import java.net.ConnectException;
import java.net.http.HttpHeaders;
import java.net.http.HttpTimeoutException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletionException;
import org.junit.jupiter.api.Test;

class UpstreamErrorsTest {

  private static HttpHeaders headers(Map<String, List<String>> values) {
    return HttpHeaders.of(values, (name, value) -> true);
  }

  @Test
  void upstreamStatusesBecomeOciErrorsWithTheSameStatus() {
    HttpHeaders none = headers(Map.of());
    assertEquals(ErrorCode.MANIFEST_UNKNOWN, UpstreamErrors.forStatus("u", 404, none, ErrorCode.MANIFEST_UNKNOWN).code());
    assertEquals(401, UpstreamErrors.forStatus("u", 401, none, ErrorCode.BLOB_UNKNOWN).status());
    assertEquals(403, UpstreamErrors.forStatus("u", 403, none, ErrorCode.BLOB_UNKNOWN).status());
    assertEquals(503, UpstreamErrors.forStatus("u", 503, none, ErrorCode.BLOB_UNKNOWN).status());
    assertEquals(502, UpstreamErrors.forStatus("u", 500, none, ErrorCode.BLOB_UNKNOWN).status(), "never a 500 of ours");
  }

  @Test
  void aRateLimitKeepsItsRetryAfter() {
    RegistryException error = UpstreamErrors.forStatus("u", 429, headers(Map.of("Retry-After", List.of("7"))), ErrorCode.BLOB_UNKNOWN);
    assertEquals(ErrorCode.TOOMANYREQUESTS, error.code());
    assertEquals(Duration.ofSeconds(7), error.retryAfter().orElseThrow());
  }

  @Test
  void networkFailuresAreBadGatewayOrTimeout() {
    assertEquals(502, UpstreamErrors.forFailure("u", new CompletionException(new ConnectException("refused"))).status());
    assertEquals(504, UpstreamErrors.forFailure("u", new HttpTimeoutException("slow")).status());
  }

  @Test
  void retryAfterTakesSecondsOrAnHttpDate() {
    assertEquals(Duration.ofSeconds(3), UpstreamErrors.parseRetryAfter("3").orElseThrow());
    assertTrue(UpstreamErrors.parseRetryAfter("Wed, 21 Oct 2015 07:28:00 GMT").orElseThrow().isZero());
    assertTrue(UpstreamErrors.parseRetryAfter("soon").isEmpty());
  }
}
