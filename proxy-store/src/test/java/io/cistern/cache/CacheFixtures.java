package io.cistern.cache;

import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;

/** Shared helpers for the cache tests: settings, content, and downloads done the way the proxy does them. */
final class CacheFixtures {

  /** Long enough that access times reach SQLite only through passes and shutdown, never on a tick. */
  static final Duration NO_FLUSH_TICK = Duration.ofHours(1);

  private CacheFixtures() {}

  static CacheSettings settings(Path directory, long maxBytes, double lowWaterFraction, Duration reservationTimeout) {
    return new CacheSettings(directory, maxBytes, lowWaterFraction, NO_FLUSH_TICK, reservationTimeout, 4);
  }

  /** Opens a cache whose evictor tells {@code turns} what it does, so that a test can wait for it. */
  static CacheDirectory open(CacheSettings settings, Clock clock, EvictorTurns turns) {
    return CacheDirectory.open(settings, clock, ForkJoinPool.commonPool(), null, turns, null);
  }

  static byte[] content(Random random, int size) {
    byte[] bytes = new byte[size];
    random.nextBytes(bytes);
    return bytes;
  }

  /**
   * Stores {@code content} as the blob fetcher does: an ingest of its size (which claims room for
   * it first), appended, published. Without a reservation it is a download of unknown size,
   * counted only when it lands.
   */
  static Digest download(BlobCache cache, byte[] content, boolean reserve) throws IOException {
    Digest digest = Digest.sha256Of(content);
    Ingest ingest = ingest(cache, digest, reserve ? content.length : -1);
    ingest.append(ByteBuffer.wrap(content));
    ingest.publish().join();
    return digest;
  }

  /** Starts an ingest, waiting for its room; fails with what refused it, unwrapped. */
  static Ingest ingest(BlobCache cache, Digest digest, long expectedSize) throws IOException {
    try {
      return cache.ingest(digest, expectedSize).join();
    } catch (CompletionException e) {
      if (e.getCause() instanceof IOException io) {
        throw io;
      }
      throw e;
    }
  }

  /**
   * Stores {@code count} reserved blobs of {@code size} random bytes, one millisecond apart on
   * {@code clock}, so their order is their LRU order.
   */
  static List<Digest> storeInOrder(BlobCache cache, ManualClock clock, Random random, int count, int size) throws IOException {
    List<Digest> digests = new ArrayList<>();
    for (int i = 0; i < count; i++) {
      clock.advance(Duration.ofMillis(1));
      digests.add(download(cache, content(random, size), true));
    }
    return digests;
  }

  /** An image manifest referring to {@code blobs} (the first as its config), as an upstream would send it. */
  static Manifest imageManifest(List<byte[]> blobs) {
    StringBuilder layers = new StringBuilder();
    for (int i = 1; i < blobs.size(); i++) {
      layers.append(i > 1 ? "," : "").append(descriptor("application/vnd.oci.image.layer.v1.tar+gzip", blobs.get(i)));
    }
    String json = """
        {"schemaVersion":2,"mediaType":"%s","config":%s,"layers":[%s]}"""
        .formatted(MediaTypes.OCI_MANIFEST, descriptor("application/vnd.oci.image.config.v1+json", blobs.get(0)), layers);
    return Manifest.of(MediaTypes.OCI_MANIFEST, json.getBytes(StandardCharsets.UTF_8));
  }

  /** An index over {@code manifests}, one platform each (amd64, arm64, …). */
  static Manifest indexManifest(List<Manifest> manifests) {
    List<String> architectures = List.of("amd64", "arm64", "s390x", "ppc64le");
    StringBuilder entries = new StringBuilder();
    for (int i = 0; i < manifests.size(); i++) {
      Manifest child = manifests.get(i);
      entries.append(i > 0 ? "," : "").append("""
          {"mediaType":"%s","digest":"%s","size":%d,"platform":{"os":"linux","architecture":"%s"}}"""
          .formatted(child.mediaType(), child.digest(), child.bytes().length, architectures.get(i)));
    }
    String json = """
        {"schemaVersion":2,"mediaType":"%s","manifests":[%s]}""".formatted(MediaTypes.OCI_INDEX, entries);
    return Manifest.of(MediaTypes.OCI_INDEX, json.getBytes(StandardCharsets.UTF_8));
  }

  private static String descriptor(String mediaType, byte[] content) {
    return """
        {"mediaType":"%s","digest":"%s","size":%d}""".formatted(mediaType, Digest.sha256Of(content), content.length);
  }

  /** Stores an image as a pull does: its blobs (downloaded, reserved), then its manifest. */
  static Manifest storeImage(BlobCache cache, List<byte[]> blobs) throws IOException {
    for (byte[] blob : blobs) {
      download(cache, blob, true);
    }
    Manifest manifest = imageManifest(blobs);
    cache.storeManifest(manifest);
    return manifest;
  }

  /** The temp files of downloads under the cache directory. */
  static List<Path> partials(BlobCache cache) {
    try (Stream<Path> files = Files.walk(cache.directory().resolve("blobs"))) {
      return files.filter(file -> file.getFileName().toString().endsWith(DiskTier.PARTIAL_SUFFIX)).toList();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** Bytes of published blob files under the cache directory, temp files excluded. */
  static long bytesOnDisk(BlobCache cache) {
    try (Stream<Path> files = Files.walk(cache.directory().resolve("blobs"))) {
      return files.filter(Files::isRegularFile)
          .filter(file -> !file.getFileName().toString().endsWith(DiskTier.PARTIAL_SUFFIX))
          .mapToLong(file -> {
            try {
              return Files.size(file);
            } catch (IOException e) {
              throw new UncheckedIOException(e);
            }
          }).sum();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  /** A clock the test moves by hand, so LRU order does not depend on how fast the test runs. */
  static final class ManualClock extends Clock {
    private final AtomicLong millis = new AtomicLong(1_700_000_000_000L);

    void advance(Duration duration) {
      millis.addAndGet(duration.toMillis());
    }

    @Override
    public long millis() {
      return millis.get();
    }

    @Override
    public Instant instant() {
      return Instant.ofEpochMilli(millis());
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      return this;
    }
  }
}
