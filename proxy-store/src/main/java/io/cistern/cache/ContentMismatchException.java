package io.cistern.cache;

import java.io.IOException;

/**
 * The upstream sent content that cannot be the blob asked for: more bytes than announced, a
 * restarted download whose prefix differs, a wrong digest. Never retried; nothing is published.
 */
public final class ContentMismatchException extends IOException {
  public ContentMismatchException(String message) {
    super(message);
  }
}
