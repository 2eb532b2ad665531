package io.cistern.cache.bucket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.ContentMismatchException;
import io.cistern.cache.PutOutcome;
import io.cistern.oci.Digest;
import java.io.UncheckedIOException;
import java.net.ServerSocket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Random;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Flow;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/** The bucket tier against a real S3-API server (s3proxy, filesystem store) on 127.0.0.1. */
class S3BucketTest {

  @RegisterExtension
  static final S3ProxyServer server = new S3ProxyServer();

  private static S3Bucket bucket;
  private static final HttpClient http = HttpClient.newHttpClient();
  private static final Random random = new Random(15);

  @TempDir
  Path temp;

  @BeforeAll
  static void open() {
    bucket = S3Bucket.open(server.settings("/cistern/"));
  }

  @AfterAll
  static void close() {
    bucket.close();
  }

  @Test
  void absentBlobHasNoSizeAndCannotBeRead() {
    Digest digest = Digest.sha256Of(bytes(10));

    assertEquals(OptionalLong.empty(), bucket.size(digest).join());
    assertInstanceOf(ObjectAbsentException.class, failure(bucket.read(digest)));
    assertInstanceOf(ObjectAbsentException.class, failure(bucket.read(digest, 0, 1)));
  }

  @Test
  void storedBlobIsContentAddressedUnderThePrefixAndReadsBackWholeAndInRanges() {
    byte[] content = bytes(300_000);
    Digest digest = Digest.sha256Of(content);

    assertEquals(PutOutcome.STORED, bucket.putVerified(digest, Bodies.of(content, 8192), content.length).join());

    assertTrue(Files.isRegularFile(server.bucketDirectory().resolve("cistern/blobs/sha256/" + digest.hex())));
    assertEquals(OptionalLong.of(content.length), bucket.size(digest).join());
    BucketObject whole = bucket.read(digest).join();
    assertEquals(0, whole.offset());
    assertEquals(content.length, whole.length());
    assertEquals(content.length, whole.objectSize());
    assertArrayEquals(content, Bodies.collect(whole.body()).join());

    for (long[] range : new long[][] {{0, 1}, {0, 1000}, {12_345, 65_536}, {content.length - 1, 1}, {content.length - 500, 500}}) {
      BucketObject part = bucket.read(digest, range[0], range[1]).join();
      assertEquals(range[0], part.offset());
      assertEquals(range[1], part.length());
      assertEquals(content.length, part.objectSize());
      byte[] expected = java.util.Arrays.copyOfRange(content, (int) range[0], (int) (range[0] + range[1]));
      assertArrayEquals(expected, Bodies.collect(part.body()).join(), "range " + range[0] + "+" + range[1]);
    }
  }

  @Test
  void aPinnedCopyIsMadeInsideTheStoreOrUploadedAndOutlivesTheBlobsObject() {
    byte[] content = bytes(100_000);
    Digest digest = put(content);
    assertTrue(bucket.pinned().copyFromBlobs(digest).join(), "copied from blobs/");
    assertTrue(Files.isRegularFile(server.bucketDirectory().resolve("cistern/pinned/sha256/" + digest.hex())));
    bucket.delete(digest).join();
    assertEquals(OptionalLong.empty(), bucket.size(digest).join(), "expired from blobs/");
    assertEquals(OptionalLong.of(content.length), bucket.pinned().size(digest).join());
    assertArrayEquals(content, Bodies.collect(bucket.pinned().read(digest).join().body()).join());

    byte[] onlyLocal = bytes(5_000);
    Digest local = Digest.sha256Of(onlyLocal);
    assertFalse(bucket.pinned().copyFromBlobs(local).join(), "blobs/ lacks it");
    assertInstanceOf(ContentMismatchException.class,
        failure(bucket.pinned().put(local, Bodies.of(bytes(5_000), 1024), 5_000, "application/octet-stream")),
        "a pinned upload is digest-gated too");
    assertEquals(PutOutcome.STORED, bucket.pinned().put(local, Bodies.of(onlyLocal, 1024), onlyLocal.length,
        "application/octet-stream").join());
    assertArrayEquals(onlyLocal, Bodies.collect(bucket.pinned().read(local).join().body()).join());

    bucket.pinned().delete(digest).join();
    assertInstanceOf(ObjectAbsentException.class, failure(bucket.pinned().read(digest)));
  }

  @Test
  void documentsAreListedByFolderAndDeleted() {
    BucketDocuments documents = bucket.documents();
    documents.create("pins/up.test/team/app/1.0", "{}".getBytes(StandardCharsets.UTF_8)).join();
    documents.create("pins/up.test/team/app/sha256:ab", "{}".getBytes(StandardCharsets.UTF_8)).join();
    documents.create("pinsnot/x", "{}".getBytes(StandardCharsets.UTF_8)).join();

    assertEquals(List.of("pins/up.test/team/app/1.0", "pins/up.test/team/app/sha256:ab"),
        documents.list("pins").join().stream().sorted().toList());
    documents.delete("pins/up.test/team/app/1.0").join();
    assertEquals(List.of("pins/up.test/team/app/sha256:ab"), documents.list("pins").join());
    assertEquals(Optional.empty(), documents.read("pins/up.test/team/app/1.0").join());
    assertThrows(IllegalArgumentException.class, () -> documents.list("pinned"), "the pinned copies are no documents");
  }

  @Test
  void readArrivesInPiecesAsItStreamsAndCanBeAbandoned() {
    byte[] content = bytes(2 * 1024 * 1024);
    Digest digest = put(content);
    BucketObject object = bucket.read(digest).join();
    CompletableFuture<ByteBuffer> first = new CompletableFuture<>();

    object.body().subscribe(new Flow.Subscriber<>() {
      private Flow.Subscription subscription;

      @Override
      public void onSubscribe(Flow.Subscription subscription) {
        this.subscription = subscription;
        subscription.request(1);
      }

      @Override
      public void onNext(ByteBuffer buffer) {
        first.complete(buffer);
        subscription.cancel();
      }

      @Override
      public void onError(Throwable error) {
        first.completeExceptionally(error);
      }

      @Override
      public void onComplete() {}
    });

    assertTrue(first.join().remaining() < content.length, "the first piece is not the whole blob");
    assertArrayEquals(content, Bodies.collect(bucket.read(digest).join().body()).join(), "the client carries on");
  }

  @Test
  void rangeStartingPastTheEndIsRefused() {
    byte[] content = bytes(100);
    Digest digest = put(content);

    assertInstanceOf(BucketRefusedException.class, failure(bucket.read(digest, 100, 10)));
  }

  @Test
  void aSecondPutOfTheSameBlobFindsItThere() throws Exception {
    byte[] content = bytes(3 * 1024 * 1024 + 17);
    Digest digest = Digest.sha256Of(content);
    Path file = Files.write(temp.resolve("blob"), content);

    assertEquals(PutOutcome.STORED, bucket.putVerified(digest, file, content.length).join());
    assertEquals(PutOutcome.ALREADY_PRESENT, bucket.putVerified(digest, file, content.length).join());
    assertEquals(PutOutcome.ALREADY_PRESENT, bucket.putVerified(digest, Bodies.of(content, 65_536), content.length).join());
    assertArrayEquals(content, Bodies.collect(bucket.read(digest).join().body()).join());
  }

  @Test
  void emptyBlobIsStoredAndRead() {
    Digest empty = Digest.sha256Of(new byte[0]);

    assertEquals(PutOutcome.STORED, bucket.putVerified(empty, Bodies.of(new byte[0], 1), 0).join());

    assertEquals(OptionalLong.of(0), bucket.size(empty).join());
    assertArrayEquals(new byte[0], Bodies.collect(bucket.read(empty).join().body()).join());
  }

  @Test
  void racingConditionalPutsOfOneBlobHaveExactlyOneWinner() throws Exception {
    int writers = 4;
    ExecutorService pool = Executors.newFixedThreadPool(writers);
    try {
      for (int round = 0; round < 30; round++) {
        byte[] content = bytes(64 * 1024 + round);
        Digest digest = Digest.sha256Of(content);
        CyclicBarrier start = new CyclicBarrier(writers);
        List<Future<PutOutcome>> outcomes = new ArrayList<>();
        for (int w = 0; w < writers; w++) {
          outcomes.add(pool.submit(() -> {
            start.await();
            return bucket.putVerified(digest, Bodies.of(content, 16 * 1024), content.length).join();
          }));
        }
        int stored = 0;
        for (Future<PutOutcome> outcome : outcomes) {
          stored += outcome.get() == PutOutcome.STORED ? 1 : 0;
        }
        assertEquals(1, stored, "round " + round + ": exactly one writer creates the object");
        assertArrayEquals(content, Bodies.collect(bucket.read(digest).join().body()).join());
      }
    } finally {
      pool.shutdownNow();
    }
  }

  @Test
  void retriedPutWhoseFirstAttemptLandedIsAlreadyPresent() throws Exception {
    byte[] content = bytes(200_000);
    Digest digest = Digest.sha256Of(content);
    Path file = Files.write(temp.resolve("blob"), content);
    try (var relay = new ResponseDroppingFaultInjectingRelay(server.endpoint());
        var throughRelay = S3Bucket.open(S3ProxyServer.settings(relay.endpoint(), S3ProxyServer.BUCKET, "cistern"))) {

      assertEquals(PutOutcome.ALREADY_PRESENT, throughRelay.putVerified(digest, file, content.length).join());

      assertEquals(2, relay.puts(), "the SDK retried the PUT whose answer was lost");
    }
    assertArrayEquals(content, Bodies.collect(bucket.read(digest).join().body()).join());
  }

  @Test
  void putWhoseSourceFailsMidBodyLeavesNoObject() {
    byte[] content = bytes(256 * 1024);
    Digest digest = Digest.sha256Of(content);
    var died = new UncheckedIOException(new java.io.IOException("the source died mid-body"));

    Throwable failure = failure(bucket.putVerified(digest, Bodies.failingAfter(content, 16 * 1024, 8, died), content.length));

    assertSame(died, failure, "the caller learns its own stream's failure, not a bucket error");
    assertEquals(OptionalLong.empty(), bucket.size(digest).join());
    assertEquals(PutOutcome.STORED, bucket.putVerified(digest, Bodies.of(content, 16 * 1024), content.length).join());
  }

  @Test
  void bytesThatAreNotTheBlobNeverLand() {
    // s3proxy is told no checksum, so it would store whatever arrived in full: only the held-back
    // last buffer keeps these out.
    byte[] content = bytes(100_000);
    Digest digest = Digest.sha256Of(content);
    byte[] corrupt = content.clone();
    corrupt[50_000] ^= 1;

    AtomicInteger sent = new AtomicInteger();
    Flow.Publisher<ByteBuffer> counted = subscriber -> {
      sent.incrementAndGet();
      Bodies.of(corrupt, 8192).subscribe(subscriber);
    };

    assertInstanceOf(ContentMismatchException.class, failure(bucket.putVerified(digest, counted, content.length)));
    assertEquals(1, sent.get(), "wrong bytes are not sent again by a retry");
    assertInstanceOf(ContentMismatchException.class,
        failure(bucket.putVerified(digest, Bodies.of(java.util.Arrays.copyOf(content, 99_999), 8192), content.length)));
    assertInstanceOf(ContentMismatchException.class, failure(bucket.putVerified(digest, Bodies.of(bytes(100_001), 8192), content.length)));
    assertInstanceOf(ContentMismatchException.class, failure(bucket.putVerified(Digest.sha256Of(bytes(1)), Bodies.of(new byte[0], 1), 0)));

    assertEquals(OptionalLong.empty(), bucket.size(digest).join());
  }

  @Test
  void fileThatChangedSinceItWasVerifiedIsRefused() throws Exception {
    byte[] content = bytes(50_000);
    Digest digest = Digest.sha256Of(content);
    content[0] ^= 1;
    Path file = Files.write(temp.resolve("blob"), content);

    assertInstanceOf(ContentMismatchException.class, failure(bucket.putVerified(digest, file, content.length)));
    assertInstanceOf(ContentMismatchException.class, failure(bucket.putVerified(digest, file, content.length + 1)));
    assertEquals(OptionalLong.empty(), bucket.size(digest).join());
  }

  @Test
  void blobLargerThanOnePutIsRefusedWithoutSendingIt() {
    Digest digest = Digest.sha256Of(bytes(1));
    Flow.Publisher<ByteBuffer> neverRead = subscriber -> {
      throw new AssertionError("nothing is sent for a blob over the single-PUT limit");
    };

    assertInstanceOf(BucketRefusedException.class, failure(bucket.putVerified(digest, neverRead, S3Bucket.MAX_SINGLE_PUT_BYTES + 1)));
  }

  @Test
  void deleteRemovesTheBlobAndIsIdempotent() {
    Digest digest = put(bytes(1000));

    bucket.delete(digest).join();
    bucket.delete(digest).join();

    assertEquals(OptionalLong.empty(), bucket.size(digest).join());
  }

  @Test
  void presignedUrlServesTheBlobToAPlainHttpClient() throws Exception {
    byte[] content = bytes(70_000);
    Digest digest = put(content);

    URI url = bucket.presignedGet(digest, Duration.ofMinutes(2)).join();

    assertTrue(url.getRawQuery().contains("X-Amz-Expires=120"), url.toString());
    HttpResponse<byte[]> response = http.send(HttpRequest.newBuilder(url).build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, response.statusCode());
    assertArrayEquals(content, response.body());
    HttpResponse<byte[]> ranged = http.send(HttpRequest.newBuilder(url).header("Range", "bytes=10-19").build(),
        HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(206, ranged.statusCode());
    assertArrayEquals(java.util.Arrays.copyOfRange(content, 10, 20), ranged.body());
  }

  @Test
  void presignedUrlIsBoundToItsBlobAndItsLifetime() throws Exception {
    Digest digest = put(bytes(1000));
    Digest other = put(bytes(1000));
    URI url = bucket.presignedGet(digest, Duration.ofMinutes(2)).join();
    String otherPath = url.getRawPath().replace(digest.hex(), other.hex());

    assertEquals(403, status(URI.create(url.toString().replace(url.getRawPath(), otherPath))), "another key");
    assertEquals(403, status(URI.create(url.toString().replace("X-Amz-Expires=120", "X-Amz-Expires=600"))), "a longer life");
    String signature = url.getRawQuery().replaceAll(".*X-Amz-Signature=([0-9a-f]+).*", "$1");
    String forged = (signature.charAt(0) == '0' ? "1" : "0") + signature.substring(1);
    assertEquals(403, status(URI.create(url.toString().replace(signature, forged))), "a forged signature");
  }

  @Test
  void presignedUrlPastItsLifetimeIsRefused() throws Exception {
    // The SDK's presigner signs at Instant.now() and takes no clock, so the expiry is shown on
    // the same request signed by the SDK's own SigV4 signer at a time an hour ago.
    Digest digest = put(bytes(1000));
    URI fresh = bucket.presignedGet(digest, Duration.ofMinutes(2)).join();

    URI expired = PastSigner.presignedAnHourAgo(fresh, Duration.ofMinutes(2));
    URI stillValid = PastSigner.presignedAnHourAgo(fresh, Duration.ofHours(2));

    assertEquals(403, status(expired));
    assertEquals(200, status(stillValid), "the same signing, with a lifetime that covers now, works");
  }

  @Test
  void documentsAreCreatedOnceAndReplacedOnlyFromTheVersionRead() {
    String name = "tags/docker.io/library/alpine/latest.json";
    byte[] first = json("{\"digest\":\"sha256:1\",\"fetchedAt\":1}");
    byte[] second = json("{\"digest\":\"sha256:2\",\"fetchedAt\":2}");
    byte[] third = json("{\"digest\":\"sha256:3\",\"fetchedAt\":3}");

    assertEquals(Optional.empty(), bucket.documents().read(name).join());
    String created = bucket.documents().create(name, first).join().orElseThrow();
    assertEquals(Optional.empty(), bucket.documents().create(name, second).join(), "a second create finds it there");

    StoredDocument read = bucket.documents().read(name).join().orElseThrow();
    assertArrayEquals(first, read.json());
    assertEquals(created, read.etag());

    String replaced = bucket.documents().replace(name, second, read.etag()).join().orElseThrow();
    assertFalse(replaced.equals(created));
    assertEquals(Optional.empty(), bucket.documents().replace(name, third, read.etag()).join(), "a stale ETag loses");
    assertArrayEquals(second, bucket.documents().read(name).join().orElseThrow().json());
    assertEquals(Optional.empty(), bucket.documents().replace("tags/none.json", third, replaced).join(), "nothing to replace");
    assertEquals(Optional.empty(), bucket.documents().read("tags/none.json").join());
  }

  @Test
  void documentNamesStayInsideTheirPlace() {
    for (String bad : new String[] {"", "/abs", "a//b", "../up", "a/./b", "blobs/sha256/x", "dir/", "sp ace", "q?x"}) {
      assertThrows(IllegalArgumentException.class, () -> bucket.documents().read(bad), bad);
    }
    assertThrows(IllegalArgumentException.class, () -> bucket.documents().create("big.json", new byte[BucketDocuments.MAX_BYTES + 1]));
  }

  @Test
  void probeTellsAReachableBucketFromAMissingOneFromADeadEndpoint() throws Exception {
    bucket.probe().join();

    try (var missing = S3Bucket.open(S3ProxyServer.settings(server.endpoint(), "no-such-bucket", ""))) {
      assertInstanceOf(BucketRefusedException.class, failure(missing.probe()));
    }
    try (var wrongKeys = S3Bucket.open(BucketSettings.of(S3ProxyServer.BUCKET, "", server.endpoint(), "us-east-1", true,
        new BucketSettings.AccessKeys(S3ProxyServer.ACCESS_KEY, "wrong")))) {
      assertInstanceOf(BucketRefusedException.class, failure(wrongKeys.probe()));
      assertInstanceOf(BucketRefusedException.class, failure(wrongKeys.size(Digest.sha256Of(bytes(1)))));
    }
    URI dead;
    try (ServerSocket closed = new ServerSocket(0)) {
      dead = URI.create("http://127.0.0.1:" + closed.getLocalPort());
    }
    try (var unreachable = S3Bucket.open(S3ProxyServer.settings(dead, S3ProxyServer.BUCKET, ""))) {
      assertInstanceOf(BucketUnreachableException.class, failure(unreachable.probe()));
      assertInstanceOf(BucketUnreachableException.class, failure(unreachable.size(Digest.sha256Of(bytes(1)))));
      assertInstanceOf(BucketUnreachableException.class,
          failure(unreachable.putVerified(Digest.sha256Of(bytes(1)), Bodies.of(bytes(1), 1), 1)));
    }
  }

  private Digest put(byte[] content) {
    Digest digest = Digest.sha256Of(content);
    assertEquals(PutOutcome.STORED, bucket.putVerified(digest, Bodies.of(content, 8192), content.length).join());
    return digest;
  }

  private byte[] bytes(int size) {
    byte[] bytes = new byte[size];
    random.nextBytes(bytes);
    return bytes;
  }

  private static byte[] json(String text) {
    return text.getBytes(StandardCharsets.UTF_8);
  }

  private static int status(URI url) throws Exception {
    return http.send(HttpRequest.newBuilder(url).build(), HttpResponse.BodyHandlers.discarding()).statusCode();
  }

  /** What a future failed with, unwrapped. */
  private static Throwable failure(CompletableFuture<?> future) {
    CompletionException failure = assertThrows(CompletionException.class, future::join);
    Throwable cause = failure;
    while (cause instanceof CompletionException && cause.getCause() != null) {
      cause = cause.getCause();
    }
    return cause;
  }
}
