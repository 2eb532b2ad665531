package io.cistern.oci;

/**
 * The error codes of the OCI distribution spec, each with the HTTP status Cistern answers it with.
 * {@code TAG_INVALID}, {@code PAGINATION_NUMBER_INVALID}, {@code RANGE_INVALID}, {@code UNAVAILABLE}
 * and {@code UNKNOWN} are not in the spec's table but are the codes CNCF Distribution uses for the
 * same situations.
 */
public enum ErrorCode {
  BLOB_UNKNOWN(404),
  DIGEST_INVALID(400),
  MANIFEST_BLOB_UNKNOWN(404),
  MANIFEST_INVALID(400),
  MANIFEST_UNKNOWN(404),
  NAME_INVALID(400),
  NAME_UNKNOWN(404),
  SIZE_INVALID(400),
  TAG_INVALID(400),
  PAGINATION_NUMBER_INVALID(400),
  UNAUTHORIZED(401),
  DENIED(403),
  UNSUPPORTED(405),
  TOOMANYREQUESTS(429),
  RANGE_INVALID(416),
  UNAVAILABLE(503),
  UNKNOWN(500);

  private final int status;

  ErrorCode(int status) {
    this.status = status;
  }

  /** The HTTP status this error is answered with unless a caller chooses another. */
  public int status() {
    return status;
  }
}
