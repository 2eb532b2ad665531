package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * A {@link BlobTier#putVerified} as a tier takes it in: the content's stream read one buffer at a
 * time (the next asked for once the last is kept), every byte checked as it comes
 * ({@link ContentCheck}), and the whole made the tier's only once it has matched its digest; on
 * any failure what was kept is discarded. A tier says how to keep bytes and how to store them.
 * Signals arrive one after another (rule 1.3), so its state needs no lock.
 */
abstract class CheckedPut implements Flow.Subscriber<ByteBuffer> {

  private final ContentCheck check;
  private final CompletableFuture<PutOutcome> outcome = new CompletableFuture<>();
  private Flow.Subscription subscription;

  CheckedPut(Digest digest, long length) {
    this.check = new ContentCheck(digest, length);
  }

  /** Keeps the bytes of {@code buffer} (all that remain) after those kept before. */
  abstract void keep(ByteBuffer buffer) throws IOException;

  /** All the bytes are kept and match the digest: makes them the tier's. */
  abstract PutOutcome store() throws IOException;

  /** The put failed: lets go of what was kept. */
  abstract void discard();

  /** Subscribes this put to {@code content}; completes once stored or failed, and closes the content either way. */
  final CompletableFuture<PutOutcome> consume(BlobContent content) {
    content.publisher().subscribe(this);
    return outcome.whenComplete((stored, failure) -> content.close());
  }

  @Override
  public final void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    subscription.request(1);
  }

  @Override
  public final void onNext(ByteBuffer buffer) {
    if (outcome.isDone()) {
      return;
    }
    try {
      check.add(buffer);
      keep(buffer);
    } catch (IOException | RuntimeException e) {
      subscription.cancel();
      fail(e);
      return;
    }
    subscription.request(1);
  }

  @Override
  public final void onError(Throwable failure) {
    if (!outcome.isDone()) {
      fail(failure);
    }
  }

  @Override
  public final void onComplete() {
    if (outcome.isDone()) {
      return;
    }
    try {
      check.verify();
      outcome.complete(store());
    } catch (IOException | RuntimeException e) {
      fail(e);
    }
  }

  private void fail(Throwable failure) {
    discard();
    outcome.completeExceptionally(failure);
  }
}
