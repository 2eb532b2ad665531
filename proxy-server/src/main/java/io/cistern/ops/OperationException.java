package io.cistern.ops;

/**
 * An operator's request that cannot be carried out as asked: an unknown or uncached image, a bad
 * argument, a pinned image to purge. Its message says what to do instead; the admin API answers
 * it with {@link #status}, the CLI prints it.
 */
public final class OperationException extends RuntimeException {

  private final int status;

  public OperationException(int status, String message) {
    super(message);
    this.status = status;
  }

  /** The HTTP status that fits: 400 bad request, 404 not cached, 409 conflict (pinned, file exists). */
  public int status() {
    return status;
  }
}
