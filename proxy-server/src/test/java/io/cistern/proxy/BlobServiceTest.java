package io.cistern.proxy;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.BlobCache;
import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import io.cistern.cache.Ingest;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.RegistryException;
import io.cistern.testing.TestRoutes;
import io.cistern.upstream.UpstreamRouter.Route;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executor;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The blob single flight with the upstream download stood in for by the test, so that the races
 * around it (a download over before its flight is joined, an eviction between two looks at the
 * cache, one route's refusal) happen in an order the test chooses, on threads it runs by hand.
 */
class BlobServiceTest {

  private static final Route TEAM = TestRoutes.route("registry.test", "team/app");
  private static final Route TEAM_AGAIN = TestRoutes.route("registry.test", "team/app");
  private static final Route OTHER = TestRoutes.route("registry.test", "other/app");

  @TempDir
  Path directory;

  private final byte[] content = "the blob's bytes".getBytes(StandardCharsets.UTF_8);
  private final Digest digest = Digest.sha256Of(content);
  /** The executor's tasks, run by the test when it chooses ({@link #runQueued}). */
  private final Queue<Runnable> queued = new ArrayDeque<>();
  private final Executor byHand = queued::add;
  private final List<Route> downloadsStarted = new ArrayList<>();
  /** What a download started through a route gives; by default, the blob, downloaded at once. */
  private final Map<Route, CompletableFuture<Ingest>> answers = new ConcurrentHashMap<>();
  private CacheDirectory opened;
  private BlobCache cache;

  @BeforeEach
  void open() {
    opened = CacheDirectory.open(CacheSettings.defaults(directory, 1L << 30), Clock.systemUTC());
    cache = opened.blobs();
  }

  @AfterEach
  void close() {
    opened.close();
  }

  private BlobService service(Executor executor) {
    return new BlobService(cache, executor, (route, asked) -> {
      downloadsStarted.add(route);
      return answers.computeIfAbsent(route, ignored -> CompletableFuture.completedFuture(downloadNow(content)));
    });
  }

  @Test
  void aDownloadOverBeforeItsFlightIsJoinedLeavesNoEntryBehind() throws Exception {
    BlobService blobs = service(Runnable::run);

    assertInstanceOf(BlobSource.Downloading.class, blobs.open(TEAM, digest).get());
    assertEquals(0, blobs.downloadsInFlight(), "the finished download left the map");

    opened.catalog().purgeImage(digest);
    answers.clear();
    assertInstanceOf(BlobSource.Downloading.class, blobs.open(TEAM, digest).get());
    assertEquals(2, downloadsStarted.size(), "once evicted, the blob is downloaded afresh, not joined to the old download");
  }

  @Test
  void aBlobEvictedBetweenTheFlightsLookAndTheNextIsDownloadedAgain() throws Exception {
    BlobService blobs = service(byHand);
    CompletableFuture<BlobSource> source = blobs.open(TEAM, digest);
    downloadNow(content);

    runQueued();
    // The flight found the blob stored and ended; the look that would open it has not run yet.
    opened.catalog().purgeImage(digest);
    runQueued();
    runQueued();

    assertInstanceOf(BlobSource.Downloading.class, source.get());
    assertEquals(List.of(TEAM), downloadsStarted);
    assertTrue(queued.isEmpty());
  }

  @Test
  void oneDownloadServesEveryRouteThatAsks() throws Exception {
    BlobService blobs = service(Runnable::run);
    CompletableFuture<Ingest> download = new CompletableFuture<>();
    answers.put(TEAM, download);

    CompletableFuture<BlobSource> first = blobs.open(TEAM, digest);
    CompletableFuture<BlobSource> second = blobs.open(OTHER, digest);
    Ingest ingest = downloadNow(content);
    download.complete(ingest);

    assertSame(ingest.followers(), ((BlobSource.Downloading) first.get()).blob());
    assertSame(ingest.followers(), ((BlobSource.Downloading) second.get()).blob());
    assertEquals(List.of(TEAM), downloadsStarted);
  }

  @Test
  void aRefusalForOneRouteIsNotHandedToTheClientsOfAnother() throws Exception {
    BlobService blobs = service(Runnable::run);
    CompletableFuture<Ingest> refused = new CompletableFuture<>();
    answers.put(TEAM, refused);

    CompletableFuture<BlobSource> team = blobs.open(TEAM, digest);
    CompletableFuture<BlobSource> teamAgain = blobs.open(TEAM_AGAIN, digest);
    CompletableFuture<BlobSource> other = blobs.open(OTHER, digest);
    refused.completeExceptionally(new RegistryException(ErrorCode.BLOB_UNKNOWN, "not in team/app"));

    assertEquals(ErrorCode.BLOB_UNKNOWN, registryFailure(team).code());
    assertEquals(ErrorCode.BLOB_UNKNOWN, registryFailure(teamAgain).code(), "the same route's refusal is its own");
    assertInstanceOf(BlobSource.Downloading.class, other.get(), "another route tries for itself");
    assertEquals(List.of(TEAM, OTHER), downloadsStarted);
  }

  @Test
  void aFailureThatIsNoRefusalIsShared() {
    BlobService blobs = service(Runnable::run);
    CompletableFuture<Ingest> failed = new CompletableFuture<>();
    answers.put(TEAM, failed);

    CompletableFuture<BlobSource> team = blobs.open(TEAM, digest);
    CompletableFuture<BlobSource> other = blobs.open(OTHER, digest);
    failed.completeExceptionally(new RegistryException(ErrorCode.UNAVAILABLE, 502, "upstream down", null, null));

    assertEquals(502, registryFailure(team).status());
    assertEquals(502, registryFailure(other).status());
    assertEquals(List.of(TEAM), downloadsStarted);
  }

  @Test
  void aDownloadAnnouncedEmptyIsAnsweredOnlyOnceVerified() throws Exception {
    BlobService blobs = service(Runnable::run);
    byte[] empty = new byte[0];
    Ingest wrong = begin(digest, 0);
    answers.put(TEAM, CompletableFuture.completedFuture(wrong));
    Ingest right = begin(Digest.sha256Of(empty), 0);
    answers.put(OTHER, CompletableFuture.completedFuture(right));

    CompletableFuture<BlobSource> claimedEmpty = blobs.open(TEAM, digest);
    CompletableFuture<BlobSource> reallyEmpty = blobs.open(OTHER, Digest.sha256Of(empty));
    assertFalse(claimedEmpty.isDone(), "no answer, not even headers, before verification");
    assertFalse(reallyEmpty.isDone());

    assertThrows(IOException.class, wrong::publish);
    right.publish();

    RegistryException failure = registryFailure(claimedEmpty);
    assertEquals(502, failure.status());
    BlobSource.Stored stored = assertInstanceOf(BlobSource.Stored.class, reallyEmpty.get());
    assertEquals(0, stored.size());
    stored.content().close();
  }

  private void runQueued() {
    Runnable next = queued.poll();
    if (next == null) {
      throw new AssertionError("nothing was queued on the executor");
    }
    next.run();
  }

  /** Downloads {@code bytes} into the cache at once, as an upstream that sent them all would. */
  private Ingest downloadNow(byte[] bytes) {
    Ingest ingest = begin(Digest.sha256Of(bytes), bytes.length);
    try {
      ingest.append(ByteBuffer.wrap(bytes));
      ingest.publish().join();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
    return ingest;
  }

  private Ingest begin(Digest blob, long size) {
    return cache.ingest(blob, size).join();
  }

  private static RegistryException registryFailure(CompletableFuture<BlobSource> source) {
    ExecutionException failure = assertThrows(ExecutionException.class, source::get);
    return assertInstanceOf(RegistryException.class, failure.getCause());
  }
}
