package io.cistern.testing;

import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Stream;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.ForwardingBlobStore;
import org.gaul.s3proxy.blobstore.domain.Blob;
import org.gaul.s3proxy.blobstore.domain.MultipartPart;
import org.gaul.s3proxy.blobstore.domain.MultipartUpload;
import org.gaul.s3proxy.blobstore.options.CreateContainerOptions;
import org.gaul.s3proxy.blobstore.options.GetOptions;
import org.gaul.s3proxy.blobstore.options.PutOptions;

/**
 * A real S3-API server for the cluster tests and the bench: s3proxy on 127.0.0.1 (port 0 the first
 * time), its filesystem store in a directory the caller owns, SigV4 checked with one key pair,
 * path-style addressing, and one bucket made at start. It can be stopped (connections refused, as a
 * bucket that became unreachable) and restarted on the same port with the same objects.
 *
 * <p>The store is watched as the server writes to it, so a test can wait for an object to be
 * written ({@link #stored}) instead of polling, count what was read ({@link #reads}), and hold a
 * removal until the test lets it happen ({@link #holdRemoval}).
 */
public final class S3Server implements AutoCloseable {

  public static final String BUCKET = "cistern-cluster";
  public static final String ACCESS_KEY = "cluster-access-key";
  public static final String SECRET_KEY = "cluster-secret-key";

  private final Path directory;
  private final Watched store;
  private S3Proxy server;
  private int port;

  private S3Server(Path directory, BlobStore store) {
    this.directory = directory;
    this.store = new Watched(store);
  }

  /** Starts a server whose objects live under {@code directory}, with an empty bucket {@link #BUCKET}. */
  public static S3Server start(Path directory) throws Exception {
    Files.createDirectories(directory);
    Properties properties = new Properties();
    properties.setProperty("jclouds.filesystem.basedir", directory.toString());
    BlobStore store = BlobStores.create("filesystem-nio2", properties);
    store.createContainer(BUCKET, CreateContainerOptions.NONE);
    S3Server s3 = new S3Server(directory, store);
    s3.listen(0);
    return s3;
  }

  private void listen(int wantedPort) throws Exception {
    // S3Proxy.start() returns once Jetty listens.
    server = S3Proxy.builder()
        .blobStore(store)
        .endpoint(URI.create("http://127.0.0.1:" + wantedPort))
        .awsAuthentication(AuthenticationType.AWS_V4, ACCESS_KEY, SECRET_KEY)
        .build();
    server.start();
    port = server.getPort();
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + port);
  }

  public int port() {
    return port;
  }

  /** Stops listening: new connections are refused, as from a bucket that went away. */
  public synchronized void stop() throws Exception {
    if (server != null) {
      server.stop();
      server = null;
    }
  }

  /** Listens again on the same port, with the objects it had. */
  public synchronized void restart() throws Exception {
    stop();
    listen(port);
  }

  /**
   * Completes once the object {@code key} of the bucket exists: at once if it does, else when a
   * write of it completes.
   */
  public CompletableFuture<Void> stored(String key) {
    CompletableFuture<Void> written = store.written.computeIfAbsent(key, k -> new CompletableFuture<>());
    if (store.delegate().blobExists(BUCKET, key)) {
      written.complete(null);
    }
    return written;
  }

  /**
   * Holds the next removal of {@code key} before it happens, until {@link RemovalHold#release}: a
   * test can then act while a client's DELETE is between its request and its effect.
   */
  public RemovalHold holdRemoval(String key) {
    RemovalHold hold = new RemovalHold();
    if (store.heldRemovals.putIfAbsent(key, hold) != null) {
      throw new IllegalStateException("the removal of " + key + " is held already");
    }
    return hold;
  }

  /** A removal held at the server: {@link #arrived} completes when it reaches the store. */
  public static final class RemovalHold {
    private final CompletableFuture<Void> arrived = new CompletableFuture<>();
    private final CountDownLatch released = new CountDownLatch(1);

    public CompletableFuture<Void> arrived() {
      return arrived;
    }

    /** Lets the removal happen; releasing twice, or one that never arrived, is harmless. */
    public void release() {
      released.countDown();
    }

    private void await() {
      arrived.complete(null);
      try {
        released.await();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
  }

  /** The Content-Type the object {@code key} was stored with. */
  public String contentType(String key) {
    return store.delegate().blobMetadata(BUCKET, key).contentMetadata().contentType();
  }

  /** Whether the bucket holds the object {@code key} now. */
  public boolean holds(String key) {
    return store.delegate().blobExists(BUCKET, key);
  }

  /** How many reads (GETs, whole or ranged) of {@code key} the server has answered. */
  public long reads(String key) {
    AtomicLong reads = store.reads.get(key);
    return reads == null ? 0 : reads.get();
  }

  /**
   * Removes every object whose key starts with {@code keyPrefix}, as an expiry of the store's
   * lifecycle rule would; returns how many.
   */
  public int removeUnder(String keyPrefix) throws IOException {
    int removed = 0;
    for (String key : keys()) {
      if (key.startsWith(keyPrefix)) {
        store.delegate().removeBlob(BUCKET, key);
        removed++;
      }
    }
    return removed;
  }

  /** Every object key of the bucket, sorted. */
  public List<String> keys() throws IOException {
    Path root = directory.resolve(BUCKET);
    try (Stream<Path> files = Files.walk(root)) {
      return files.filter(Files::isRegularFile).map(file -> root.relativize(file).toString()).sorted().toList();
    }
  }

  @Override
  public void close() throws Exception {
    stop();
    store.delegate().close();
  }

  /** The store, seen as s3proxy writes and reads it. */
  private static final class Watched extends ForwardingBlobStore {
    private final Map<String, CompletableFuture<Void>> written = new ConcurrentHashMap<>();
    private final Map<String, AtomicLong> reads = new ConcurrentHashMap<>();
    private final Map<String, RemovalHold> heldRemovals = new ConcurrentHashMap<>();

    Watched(BlobStore store) {
      super(store);
    }

    @Override
    public String putBlob(String container, Blob blob, PutOptions options) {
      String etag = super.putBlob(container, blob, options);
      announce(blob.getMetadata().name());
      return etag;
    }

    @Override
    public String completeMultipartUpload(MultipartUpload upload, List<MultipartPart> parts) {
      String etag = super.completeMultipartUpload(upload, parts);
      announce(upload.blobName());
      return etag;
    }

    @Override
    public Blob getBlob(String container, String name, GetOptions options) {
      Blob blob = super.getBlob(container, name, options);
      if (blob != null) {
        reads.computeIfAbsent(name, k -> new AtomicLong()).incrementAndGet();
      }
      return blob;
    }

    @Override
    public void removeBlob(String container, String name) {
      RemovalHold hold = heldRemovals.remove(name);
      if (hold != null) {
        hold.await();
      }
      super.removeBlob(container, name);
    }

    private void announce(String key) {
      written.computeIfAbsent(key, k -> new CompletableFuture<>()).complete(null);
    }
  }
}
