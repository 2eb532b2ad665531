package io.cistern.upstream;

import io.cistern.oci.RegistryException;
import java.io.IOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.net.http.HttpTimeoutException;
import java.util.Locale;

/**
 * Why a request to an upstream is tried again; the {@code cause} of
 * {@code cistern_upstream_retries_total}. The first three are connection failures: the upstream
 * (or the link to it) is gone, which waiting may mend. The last two are the upstream's answers.
 */
public enum RetryCause {

  /** No connection could be made: refused, no route, or the connect timed out. */
  UNREACHABLE,
  /** The connection broke: reset, or closed before the answer was complete. */
  DROPPED,
  /** The upstream went silent: no answer within {@code responseTimeout}, or a body paused for {@code idleTimeout}. */
  STALLED,
  /** It answered 429. */
  THROTTLED,
  /** It answered 5xx. */
  UNAVAILABLE;

  /** The metric label: the name in lower case. */
  public String label() {
    return name().toLowerCase(Locale.ROOT);
  }

  public boolean isConnectionFailure() {
    return this == UNREACHABLE || this == DROPPED || this == STALLED;
  }

  /**
   * The connection failure {@code failure} is, looking through the wrappers futures and
   * {@link UpstreamErrors#forFailure} put around it; null when it is something else (an answer,
   * or a failure that is not an {@link IOException}). Whether an I/O failure really came from the
   * network, and not from whatever consumed the body, only the consumer knows: it must rule out
   * its own failures before asking.
   */
  public static RetryCause ofConnectionFailure(Throwable failure) {
    Throwable cause = UpstreamErrors.unwrap(failure);
    if (cause instanceof RegistryException wrapper && wrapper.getCause() != null) {
      cause = UpstreamErrors.unwrap(wrapper.getCause());
    }
    if (cause instanceof ConnectException || cause instanceof HttpConnectTimeoutException) {
      return UNREACHABLE;
    }
    if (cause instanceof HttpTimeoutException) {
      return STALLED;
    }
    return cause instanceof IOException ? DROPPED : null;
  }

  /** The cause for an upstream's answer with {@code status}; null for one that no retry changes. */
  public static RetryCause ofStatus(int status) {
    if (status == 429) {
      return THROTTLED;
    }
    return status >= 500 ? UNAVAILABLE : null;
  }
}
