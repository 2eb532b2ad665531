package io.cistern.upstream;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** A user name and password (or token) for an upstream registry. */
public record Credentials(String username, String password) {

  public Credentials {
    if (username == null || password == null) {
      throw new IllegalArgumentException("credentials need a username and a password");
    }
  }

  /** The value of an {@code Authorization: Basic …} header. */
  public String basicAuthorization() {
    String pair = username + ":" + password;
    return "Basic " + Base64.getEncoder().encodeToString(pair.getBytes(StandardCharsets.UTF_8));
  }

  /** Never prints the secret. */
  @Override
  public String toString() {
    return "Credentials[" + username + ", ****]";
  }
}
