package io.cistern.cache.bucket;

import io.cistern.cache.ContentMismatchException;
import io.cistern.oci.Digest;
import java.nio.ByteBuffer;
import java.security.MessageDigest;
import java.util.concurrent.Flow;

/**
 * Passes a blob's bytes on to an upload while hashing them, and holds back the buffer that
 * completes the declared size until the whole digest has been checked: a mismatch, a short body or
 * extra bytes fail the stream instead, so the store never receives the last byte of a PUT whose
 * Content-Length it was promised, and publishes nothing. (Bytes beyond the declared size fail the
 * stream too, but only after the whole, matching blob went out, so what a store may publish then
 * is still exactly the blob.) This is what makes "only verified content lands" hold on every S3
 * store, whether or not it checks checksums itself, for sizes above zero; the caller checks an
 * empty body, which has no last byte to hold back.
 *
 * <p>Each subscription hashes afresh, so a client retry that subscribes again is checked again; a
 * source that cannot be replayed fails that retry, as it would without the gate. No extra demand
 * is needed: the held-back buffer is the one the upstream {@code onNext} was demanded for.
 */
final class DigestGate implements Flow.Publisher<ByteBuffer> {

  private final Flow.Publisher<ByteBuffer> source;
  private final Digest expected;
  private final long size;

  DigestGate(Flow.Publisher<ByteBuffer> source, Digest expected, long size) {
    this.source = source;
    this.expected = expected;
    this.size = size;
  }

  @Override
  public void subscribe(Flow.Subscriber<? super ByteBuffer> downstream) {
    source.subscribe(new Gate(downstream));
  }

  /** One pass over the source. Reactive Streams serialises the signals, so no field needs a lock. */
  private final class Gate implements Flow.Subscriber<ByteBuffer> {
    private final Flow.Subscriber<? super ByteBuffer> downstream;
    private final MessageDigest hash = expected.algorithm().newMessageDigest();
    private Flow.Subscription upstream;
    private long seen;
    private boolean failed;

    Gate(Flow.Subscriber<? super ByteBuffer> downstream) {
      this.downstream = downstream;
    }

    @Override
    public void onSubscribe(Flow.Subscription subscription) {
      upstream = subscription;
      downstream.onSubscribe(subscription);
    }

    @Override
    public void onNext(ByteBuffer buffer) {
      if (failed) {
        return;
      }
      seen += buffer.remaining();
      if (seen > size) {
        fail(new ContentMismatchException(expected + ": more than the " + size + " bytes announced"));
        return;
      }
      hash.update(buffer.duplicate());
      if (seen == size) {
        Digest actual = Digest.fromBytes(expected.algorithm(), hash.digest());
        if (!actual.equals(expected)) {
          fail(new ContentMismatchException("the bytes of " + expected + " hash to " + actual));
          return;
        }
      }
      downstream.onNext(buffer);
    }

    @Override
    public void onError(Throwable error) {
      if (!failed) {
        failed = true;
        downstream.onError(new Stopped(error));
      }
    }

    @Override
    public void onComplete() {
      if (failed) {
        return;
      }
      if (seen < size) {
        failed = true;
        downstream.onError(new Stopped(new ContentMismatchException(expected + ": the stream ended after " + seen + " of " + size + " bytes")));
        return;
      }
      downstream.onComplete();
    }

    private void fail(ContentMismatchException error) {
      failed = true;
      upstream.cancel();
      downstream.onError(new Stopped(error));
    }
  }

  /**
   * Why the gate ended the body: the source's own failure or the gate's mismatch, carried as its
   * cause. Unchecked on purpose: the SDK retries an upload whose body failed with an
   * {@code IOException} (as {@link ContentMismatchException} is), which would only read the same
   * wrong bytes again; this wrapper makes it give up at once and lets the caller unwrap the cause.
   */
  static final class Stopped extends RuntimeException {
    Stopped(Throwable cause) {
      super(cause);
    }
  }
}
