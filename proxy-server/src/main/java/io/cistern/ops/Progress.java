package io.cistern.ops;

import io.cistern.cache.GrowingBlob;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * How far a long operation (warm, export, import, verify) has come: items (blobs) and bytes, done and in
 * all. Written by the operation's threads, read by whoever displays it; every field is atomic on
 * its own, and a snapshot may mix a moment's counts, which a progress display tolerates.
 */
public final class Progress {

  private final long startNanos = System.nanoTime();
  private final AtomicLong itemsTotal = new AtomicLong();
  private final AtomicLong itemsDone = new AtomicLong();
  private final AtomicLong bytesTotal = new AtomicLong();
  private final AtomicLong bytesDone = new AtomicLong();
  private final Set<GrowingBlob> following = ConcurrentHashMap.newKeySet();
  private volatile String phase = "starting";

  void phase(String phase) {
    this.phase = phase;
  }

  void expect(long items, long bytes) {
    itemsTotal.addAndGet(items);
    bytesTotal.addAndGet(bytes);
  }

  /** An item of {@code bytes} is done at once (found already there, or small). */
  void done(long bytes) {
    advance(bytes);
    itemDone();
  }

  /** Bytes of an item under way, counted as they come. */
  void advance(long bytes) {
    bytesDone.addAndGet(bytes);
  }

  /** An item whose bytes were counted with {@link #advance} is done. */
  void itemDone() {
    itemsDone.incrementAndGet();
  }

  /** Counts a download's bytes as it writes them, until {@link #downloaded}. */
  void follow(GrowingBlob download) {
    following.add(download);
  }

  /** A followed download failed: its bytes no longer count. */
  void unfollow(GrowingBlob download) {
    following.remove(download);
  }

  void downloaded(GrowingBlob download, long bytes) {
    // Counted as done before it stops being followed: a snapshot between the two counts it twice
    // for a moment rather than not at all.
    done(bytes);
    following.remove(download);
  }

  public ProgressView snapshot() {
    long following = 0;
    for (GrowingBlob download : this.following) {
      following += download.written();
    }
    return new ProgressView(phase, itemsDone.get(), itemsTotal.get(), bytesDone.get() + following, bytesTotal.get(),
        (System.nanoTime() - startNanos) / 1_000_000);
  }
}
