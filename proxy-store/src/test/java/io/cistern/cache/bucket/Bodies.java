package io.cistern.cache.bucket;

import java.io.ByteArrayOutputStream;
import java.net.http.HttpRequest;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/** Request bodies to upload and response bodies to collect, as the bucket's streams. */
final class Bodies {

  private Bodies() {}

  /** {@code bytes} in chunks of {@code chunk}, published with demand honoured (the JDK's publisher). */
  static Flow.Publisher<ByteBuffer> of(byte[] bytes, int chunk) {
    return HttpRequest.BodyPublishers.ofByteArrays(chunks(bytes, chunk, Integer.MAX_VALUE, null));
  }

  /** The first {@code chunksBeforeFailure} chunks of {@code bytes}, then {@code failure}. */
  static Flow.Publisher<ByteBuffer> failingAfter(byte[] bytes, int chunk, int chunksBeforeFailure, RuntimeException failure) {
    return HttpRequest.BodyPublishers.ofByteArrays(chunks(bytes, chunk, chunksBeforeFailure, failure));
  }

  private static Iterable<byte[]> chunks(byte[] bytes, int chunk, int limit, RuntimeException failure) {
    List<byte[]> chunks = new ArrayList<>();
    for (int start = 0; start < bytes.length; start += chunk) {
      byte[] piece = new byte[Math.min(chunk, bytes.length - start)];
      System.arraycopy(bytes, start, piece, 0, piece.length);
      chunks.add(piece);
    }
    return () -> new Iterator<>() {
      private int next;

      @Override
      public boolean hasNext() {
        return next < chunks.size();
      }

      @Override
      public byte[] next() {
        if (next == limit) {
          throw failure;
        }
        return chunks.get(next++);
      }
    };
  }

  /** Everything {@code body} publishes, asking for one buffer at a time. */
  static CompletableFuture<byte[]> collect(Flow.Publisher<ByteBuffer> body) {
    CompletableFuture<byte[]> result = new CompletableFuture<>();
    body.subscribe(new Flow.Subscriber<>() {
      private final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      private Flow.Subscription subscription;

      @Override
      public void onSubscribe(Flow.Subscription subscription) {
        this.subscription = subscription;
        subscription.request(1);
      }

      @Override
      public void onNext(ByteBuffer buffer) {
        byte[] piece = new byte[buffer.remaining()];
        buffer.get(piece);
        bytes.write(piece, 0, piece.length);
        subscription.request(1);
      }

      @Override
      public void onError(Throwable error) {
        result.completeExceptionally(error);
      }

      @Override
      public void onComplete() {
        result.complete(bytes.toByteArray());
      }
    });
    return result;
  }
}
