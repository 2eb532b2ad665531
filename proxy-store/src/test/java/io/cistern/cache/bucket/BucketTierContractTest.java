package io.cistern.cache.bucket;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import io.cistern.cache.BlobTier;
import io.cistern.cache.BlobTierContract;
import io.cistern.cache.PutOutcome;
import io.cistern.oci.Digest;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;

/**
 * The S3 bucket keeps the tiers' contract through a thin adapter ({@link BucketTier}), against a
 * real S3-API server (s3proxy) on 127.0.0.1. One bucket client serves every test; each starts
 * without the contract's blob.
 */
class BucketTierContractTest extends BlobTierContract {

  @RegisterExtension
  static final S3ProxyServer server = new S3ProxyServer();

  private static S3Bucket bucket;
  private static BucketTier tier;

  @BeforeAll
  static void open() {
    bucket = S3Bucket.open(server.settings("contract"));
    tier = new BucketTier(bucket);
  }

  @AfterAll
  static void close() {
    bucket.close();
  }

  @BeforeEach
  void startWithoutTheBlob() throws Exception {
    await(tier.delete(digest));
  }

  @Override
  protected BlobTier tier() {
    return tier;
  }

  @Test
  void aPresignedUrlServesTheBlobWithoutCredentials() throws Exception {
    byte[] content = random(1000, 2);
    Digest digest = Digest.sha256Of(content);
    assertEquals(PutOutcome.STORED, await(tier.putVerified(digest, streamed(content))));

    URI url = await(tier.presignedGet(digest, Duration.ofMinutes(5))).orElseThrow();
    HttpResponse<byte[]> response = HttpClient.newHttpClient()
        .send(HttpRequest.newBuilder(url).GET().build(), HttpResponse.BodyHandlers.ofByteArray());
    assertEquals(200, response.statusCode());
    assertArrayEquals(content, response.body());
  }
}
