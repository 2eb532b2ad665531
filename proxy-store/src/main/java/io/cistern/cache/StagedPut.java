package io.cistern.cache;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Flow;

/**
 * A {@link DiskTier#putVerified}: content of another tier written into a temp file of its own as
 * its stream delivers it, one buffer at a time (the next is asked for once the last is written),
 * checked as it goes, and published like a download once the whole has matched its digest.
 * Signals arrive one after another (rule 1.3), so its state needs no lock.
 */
final class StagedPut implements Flow.Subscriber<ByteBuffer> {

  private final DiskTier disk;
  private final Digest digest;
  private final long length;
  private final PartialBlob file;
  private final ContentCheck check;
  private final CompletableFuture<PutOutcome> outcome = new CompletableFuture<>();
  private Flow.Subscription subscription;
  private long written;

  private StagedPut(DiskTier disk, Digest digest, long length, PartialBlob file) {
    this.disk = disk;
    this.digest = digest;
    this.length = length;
    this.file = file;
    this.check = new ContentCheck(digest, length);
  }

  /** Subscribes to {@code content} and completes once it is stored, or failed (leaving nothing behind). */
  static CompletableFuture<PutOutcome> start(DiskTier disk, Digest digest, BlobContent content) {
    PartialBlob file;
    try {
      file = PartialBlob.create(disk, digest);
    } catch (LocalStorageException e) {
      content.close();
      return CompletableFuture.failedFuture(e);
    }
    StagedPut put = new StagedPut(disk, digest, content.length(), file);
    content.publisher().subscribe(put);
    return put.outcome.whenComplete((stored, failure) -> content.close());
  }

  @Override
  public void onSubscribe(Flow.Subscription subscription) {
    this.subscription = subscription;
    subscription.request(1);
  }

  @Override
  public void onNext(ByteBuffer buffer) {
    if (outcome.isDone()) {
      return;
    }
    try {
      int count = buffer.remaining();
      check.add(buffer);
      file.write(buffer, written);
      written += count;
    } catch (IOException e) {
      subscription.cancel();
      fail(e);
      return;
    }
    subscription.request(1);
  }

  @Override
  public void onError(Throwable failure) {
    fail(failure);
  }

  @Override
  public void onComplete() {
    if (outcome.isDone()) {
      return;
    }
    try {
      check.verify();
      file.sync();
      disk.moveIntoPlace(file.tempPath(), digest, length);
    } catch (IOException | RuntimeException e) {
      fail(e);
      return;
    }
    try {
      disk.syncDirectoryOf(digest);
    } catch (IOException e) {
      outcome.completeExceptionally(new LocalStorageException("cannot sync the directory of " + digest, e));
      return;
    }
    outcome.complete(PutOutcome.STORED);
  }

  private void fail(Throwable failure) {
    file.discard();
    outcome.completeExceptionally(failure);
  }
}
