package io.cistern.proxy;

import io.cistern.upstream.TagRevalidation;
import java.util.Locale;

/** Told how each revalidation of a cached tag with its upstream ended (metrics). */
public interface TagRevalidationObserver {

  TagRevalidationObserver NONE = (upstream, mode, outcome) -> {};

  /** What the upstream said of the tag. */
  enum Outcome {
    /** It still points at the cached manifest. */
    UNCHANGED,
    /** It points at another manifest, now fetched. */
    MOVED,
    /** The upstream has no such tag (404). */
    GONE,
    /** No answer, or an error other than 404: the cached mapping is kept and served stale. */
    FAILED;

    public String label() {
      return name().toLowerCase(Locale.ROOT);
    }
  }

  /**
   * @param mode how the revalidation ran: in the background of the requests that found the tag
   *     stale, or with them waiting
   */
  void revalidated(String upstream, TagRevalidation mode, Outcome outcome);
}
