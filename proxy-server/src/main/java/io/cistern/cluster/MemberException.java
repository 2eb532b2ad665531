package io.cistern.cluster;

import java.util.concurrent.CompletionException;

/**
 * A request to another member that got no usable answer: the member could not be reached, cut its
 * answer short, or answered with an error status. Unchecked, as it travels as a failed future's cause.
 */
public final class MemberException extends RuntimeException {

  private final Member member;
  private final int status;

  /** @param status the member's answer, or 0 when it gave none (unreachable, cut, timed out) */
  public MemberException(Member member, int status, String message, Throwable cause) {
    super(message, cause, false, false);
    this.member = member;
    this.status = status;
  }

  public Member member() {
    return member;
  }

  /** The member's status, or 0 when it gave no answer. */
  public int status() {
    return status;
  }

  /**
   * Whether the member answered that the content does not exist or may not be had (404, 403),
   * which it learnt from the upstream: an answer every member would give, so it ends the request.
   */
  public boolean isRefusal() {
    return status == 404 || status == 403;
  }

  /** Whether the member gave no answer at all: it is taken for down until a probe finds it again. */
  public boolean isUnreachable() {
    return status == 0;
  }

  /** The member exception within {@code failure}, or a new one for a failure to reach {@code member}. */
  public static MemberException of(Member member, Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (t instanceof MemberException known) {
        return known;
      }
    }
    Throwable cause = failure;
    while (cause instanceof CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return new MemberException(member, 0, "member " + member + " did not answer: " + cause, cause);
  }
}
