package io.cistern.cluster;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.concurrent.atomic.AtomicLong;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The shared secret members present to each other in the {@code Cistern-Member} header. A request
 * that carries the header is a member's: with the right token it is served without client
 * authentication and never passed on to another member; with a wrong one it is refused (401).
 */
public final class MemberToken {

  /** The header that marks a request as a member's, holding the token. */
  public static final String HEADER = "Cistern-Member";

  private static final Logger log = LoggerFactory.getLogger(MemberToken.class);

  private final byte[] token;
  private final AtomicLong refused = new AtomicLong();

  /** @param token the cluster's token; null for a Cistern in no cluster, which accepts no member */
  public MemberToken(String token) {
    if (token != null && token.isEmpty()) {
      throw new IllegalArgumentException("a member token is not empty");
    }
    this.token = token == null ? null : token.getBytes(StandardCharsets.UTF_8);
  }

  /** The token as sent in {@link #HEADER}. */
  public String value() {
    if (token == null) {
      throw new IllegalStateException("this Cistern is in no cluster");
    }
    return new String(token, StandardCharsets.UTF_8);
  }

  /**
   * Whether {@code presented} is the token, compared in constant time. A refusal is logged, the
   * first and then each time the count of refusals doubles, so that a flood of them cannot flood
   * the log.
   */
  public boolean accepts(String presented) {
    if (token != null && presented != null && MessageDigest.isEqual(token, presented.getBytes(StandardCharsets.UTF_8))) {
      return true;
    }
    long count = refused.incrementAndGet();
    if (Long.bitCount(count) == 1) {
      log.warn("refused a member request with a wrong {} token ({} so far): {}", HEADER, count, token == null
          ? "this Cistern is in no cluster" : "check that every member has the same cluster.token");
    }
    return false;
  }

  /** Never prints the token. */
  @Override
  public String toString() {
    return "MemberToken[****]";
  }
}
