package io.cistern.testing;

import io.cistern.cache.bucket.BucketSettings;
import io.cistern.cache.bucket.BucketSettings.AccessKeys;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;
import org.gaul.s3proxy.AuthenticationType;
import org.gaul.s3proxy.BlobStores;
import org.gaul.s3proxy.S3Proxy;
import org.gaul.s3proxy.blobstore.BlobStore;
import org.gaul.s3proxy.blobstore.options.CreateContainerOptions;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * A real S3-API server for a test class: s3proxy in this JVM on 127.0.0.1 (port 0), its
 * filesystem store in a temp directory, SigV4 checked with one key pair, path-style addressing,
 * and one bucket made before the first test. Register it as a static {@code @RegisterExtension}.
 *
 * <p>s3proxy's own JUnit extension starts a server per test method and polls its state with
 * sleeps; this one starts once per class, and {@code S3Proxy.start()} returns once Jetty listens.
 * (A copy of proxy-store's test fixture of the same name, which the cluster tests of the server
 * need too; test classes are not shared between modules.)
 */
public final class S3ProxyServer implements BeforeAllCallback, AfterAllCallback {

  public static final String BUCKET = "cistern-test";
  public static final String ACCESS_KEY = "test-access-key";
  public static final String SECRET_KEY = "test-secret-key";

  private Path directory;
  private BlobStore store;
  private S3Proxy server;

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    directory = Files.createTempDirectory("cistern-s3proxy");
    Properties properties = new Properties();
    properties.setProperty("jclouds.filesystem.basedir", directory.toString());
    store = BlobStores.create("filesystem-nio2", properties);
    store.createContainer(BUCKET, CreateContainerOptions.NONE);
    server = S3Proxy.builder()
        .blobStore(store)
        .endpoint(URI.create("http://127.0.0.1:0"))
        .awsAuthentication(AuthenticationType.AWS_V4, ACCESS_KEY, SECRET_KEY)
        .build();
    server.start();
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    server.stop();
    store.close();
    try (Stream<Path> paths = Files.walk(directory)) {
      paths.sorted(Comparator.reverseOrder()).forEach(path -> {
        try {
          Files.delete(path);
        } catch (IOException e) {
          throw new UncheckedIOException(e);
        }
      });
    }
  }

  public URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getPort());
  }

  /** Settings for the test bucket under {@code prefix}, through {@code endpoint}. */
  public static BucketSettings settings(URI endpoint, String bucket, String prefix) {
    return BucketSettings.of(bucket, prefix, endpoint, "us-east-1", true, new AccessKeys(ACCESS_KEY, SECRET_KEY));
  }

  public BucketSettings settings(String prefix) {
    return settings(endpoint(), BUCKET, prefix);
  }

  /** Where the store keeps the bucket's objects, one file per key. */
  public Path bucketDirectory() {
    return directory.resolve(BUCKET);
  }
}
