package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.ByteArrayOutputStream;
import java.nio.ByteBuffer;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;

/**
 * A {@link BlobTier} in memory, for tests only: what a remote object store does, without a file in
 * sight. Reads are streams whose buffers arrive on the tier's own thread, as an object store's
 * client delivers them; a put is consumed from its content's stream, checked against its digest,
 * and stored only whole and right, at most once per digest.
 */
final class InMemoryTier implements BlobTier, AutoCloseable {

  private final ConcurrentHashMap<Digest, byte[]> blobs = new ConcurrentHashMap<>();
  private final ExecutorService delivery = Executors.newSingleThreadExecutor(runnable -> {
    Thread thread = new Thread(runnable, "in-memory-tier");
    thread.setDaemon(true);
    return thread;
  });

  @Override
  public CompletableFuture<OptionalLong> size(Digest digest) {
    byte[] bytes = blobs.get(digest);
    return CompletableFuture.completedFuture(bytes == null ? OptionalLong.empty() : OptionalLong.of(bytes.length));
  }

  @Override
  public CompletableFuture<Optional<BlobContent>> read(Digest digest) {
    byte[] bytes = blobs.get(digest);
    return bytes == null
        ? CompletableFuture.completedFuture(Optional.empty())
        : read(digest, 0, bytes.length);
  }

  @Override
  public CompletableFuture<Optional<BlobContent>> read(Digest digest, long offset, long length) {
    byte[] bytes = blobs.get(digest);
    if (bytes == null) {
      return CompletableFuture.completedFuture(Optional.empty());
    }
    if (offset < 0 || length < 1 || offset + length > bytes.length) {
      return CompletableFuture.failedFuture(new IllegalArgumentException(
          "bytes " + offset + "+" + length + " are not within " + digest + " (" + bytes.length + " bytes)"));
    }
    // The array is never changed once stored, so a read holds it whatever happens to the key.
    PulledPublisher stream = new PulledPublisher(length,
        (position, count) -> ByteBuffer.wrap(bytes, (int) (offset + position), count).slice().asReadOnlyBuffer());
    return CompletableFuture.completedFuture(Optional.of(new BlobContent.Streamed(length, deliveredByTier(stream))));
  }

  @Override
  public CompletableFuture<PutOutcome> putVerified(Digest digest, BlobContent content) {
    if (blobs.containsKey(digest)) {
      content.close();
      return CompletableFuture.completedFuture(PutOutcome.ALREADY_PRESENT);
    }
    return new CheckedPut(digest, content.length()) {
      private final ByteArrayOutputStream kept = new ByteArrayOutputStream();

      @Override
      void keep(ByteBuffer buffer) {
        byte[] chunk = new byte[buffer.remaining()];
        buffer.get(chunk);
        kept.writeBytes(chunk);
      }

      @Override
      PutOutcome store() {
        byte[] earlier = blobs.putIfAbsent(digest, kept.toByteArray());
        return earlier == null ? PutOutcome.STORED : PutOutcome.ALREADY_PRESENT;
      }

      @Override
      void discard() {
        // Nothing was stored: what was kept goes with this put.
      }
    }.consume(content);
  }

  @Override
  public CompletableFuture<Void> delete(Digest digest) {
    blobs.remove(digest);
    return CompletableFuture.completedFuture(null);
  }

  @Override
  public void close() {
    delivery.shutdownNow();
  }

  /**
   * {@code stream} with every request carried out on the tier's thread, so that its buffers arrive
   * there, never on the thread that asked for them.
   */
  private Flow.Publisher<ByteBuffer> deliveredByTier(Flow.Publisher<ByteBuffer> stream) {
    return subscriber -> stream.subscribe(new Flow.Subscriber<>() {
      @Override
      public void onSubscribe(Flow.Subscription subscription) {
        subscriber.onSubscribe(new Flow.Subscription() {
          @Override
          public void request(long n) {
            delivery.execute(() -> subscription.request(n));
          }

          @Override
          public void cancel() {
            subscription.cancel();
          }
        });
      }

      @Override
      public void onNext(ByteBuffer item) {
        subscriber.onNext(item);
      }

      @Override
      public void onError(Throwable throwable) {
        subscriber.onError(throwable);
      }

      @Override
      public void onComplete() {
        subscriber.onComplete();
      }
    });
  }
}
