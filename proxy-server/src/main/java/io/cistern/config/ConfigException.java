package io.cistern.config;

/** A configuration problem, reported to the operator as one line, without a stack trace. */
public final class ConfigException extends RuntimeException {
  public ConfigException(String message) {
    super(message);
  }
}
