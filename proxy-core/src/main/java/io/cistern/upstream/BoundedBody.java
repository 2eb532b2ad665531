package io.cistern.upstream;

import java.net.http.HttpResponse.BodyHandler;
import java.net.http.HttpResponse.BodySubscriber;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Flow;
import java.util.function.Supplier;

/**
 * A response body read whole into memory, but never more than a limit: an upstream document
 * (manifest, referrers page, tag list, token) is small, and one that is not, chunked or
 * announced, must not fill the heap. A {@code Content-Length} above the limit fails before a byte
 * is read; a body that grows past it fails as soon as it does, and the rest is not read.
 *
 * <p>Threads: the HTTP client signals a subscriber serially (the {@link Flow} contract), so its
 * fields need no synchronisation; the outcome is published through the future.
 */
public final class BoundedBody implements BodySubscriber<byte[]> {

  private final int limit;
  private final long declaredLength;
  private final Supplier<? extends RuntimeException> tooLarge;
  private final CompletableFuture<byte[]> body = new CompletableFuture<>();
  private final List<ByteBuffer> received = new ArrayList<>();
  private Flow.Subscription subscription;
  private long size;

  /**
   * @param declaredLength the {@code Content-Length}, or -1 when the body is chunked
   * @param tooLarge the failure for a body above {@code limit} bytes
   */
  BoundedBody(int limit, long declaredLength, Supplier<? extends RuntimeException> tooLarge) {
    this.limit = limit;
    this.declaredLength = declaredLength;
    this.tooLarge = tooLarge;
  }

  /** Reads each body with a {@link BoundedBody} of {@code limit} bytes. */
  public static BodyHandler<byte[]> upTo(int limit, Supplier<? extends RuntimeException> tooLarge) {
    return info -> new BoundedBody(limit, info.headers().firstValueAsLong("Content-Length").orElse(-1), tooLarge);
  }

  @Override
  public CompletionStage<byte[]> getBody() {
    return body;
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    if (declaredLength > limit) {
      refuse();
      return;
    }
    subscription.request(Long.MAX_VALUE);
  }

  @Override
  public void onNext(List<ByteBuffer> buffers) {
    if (body.isDone()) {
      return;
    }
    for (ByteBuffer buffer : buffers) {
      size += buffer.remaining();
    }
    if (size > limit) {
      refuse();
      return;
    }
    // The client hands over these buffers and never reuses them, as its own byte-array subscriber relies on.
    received.addAll(buffers);
  }

  @Override
  public void onError(Throwable failure) {
    received.clear();
    body.completeExceptionally(failure);
  }

  @Override
  public void onComplete() {
    if (body.isDone()) {
      return;
    }
    byte[] bytes = new byte[(int) size];
    int offset = 0;
    for (ByteBuffer buffer : received) {
      int length = buffer.remaining();
      buffer.get(bytes, offset, length);
      offset += length;
    }
    received.clear();
    body.complete(bytes);
  }

  private void refuse() {
    subscription.cancel();
    received.clear();
    body.completeExceptionally(tooLarge.get());
  }
}
