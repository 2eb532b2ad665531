package io.cistern.cache.bucket;

import java.nio.ByteBuffer;
import java.util.concurrent.Flow;

/**
 * Bytes of one object, streamed from the bucket as they arrive: never buffered whole.
 *
 * <p>{@code body} must be subscribed exactly once; cancelling the subscription releases the
 * connection. Its {@code onNext} runs on the client's I/O thread, so a subscriber hands the
 * buffers on (to a socket, a file channel) and never blocks there.
 *
 * @param offset where these bytes start in the object
 * @param length how many bytes {@code body} carries
 * @param objectSize the whole object's size
 */
public record BucketObject(long offset, long length, long objectSize, Flow.Publisher<ByteBuffer> body) {}
