package io.cistern.ops;

/**
 * A long operation started through the admin API (or the CLI without a server), as it is now.
 *
 * @param kind warm, export, import or verify
 * @param state running, done or failed
 * @param outcome when done (and for a failed warm: what did succeed), else null
 * @param error why it failed, else null
 */
public record JobView(long id, String kind, String state, ProgressView progress, Outcome outcome, String error) {

  public boolean finished() {
    return !state.equals(Jobs.RUNNING);
  }
}
