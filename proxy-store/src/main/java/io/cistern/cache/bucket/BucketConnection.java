package io.cistern.cache.bucket;

import io.netty.channel.EventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.awscore.retry.AwsRetryStrategy;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.http.async.SdkAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.NettyNioAsyncHttpClient;
import software.amazon.awssdk.http.nio.netty.SdkEventLoopGroup;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3AsyncClient;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.presigner.S3Presigner;
import software.amazon.awssdk.utils.ThreadFactoryBuilder;

/**
 * The SDK's async S3 client for one bucket and everything it runs on: two Netty I/O threads, one
 * timer thread, the credentials and the presigner, built together and closed together. Built only
 * when a bucket is opened, so a Cistern without one never loads the SDK; the README ("A cluster of
 * Cisterns", "The S3 client") says how the SDK behaves here and what it costs.
 */
final class BucketConnection implements AutoCloseable {

  /**
   * Event-loop threads for the bucket's connections. Two keep a few Gbit/s of streamed bodies
   * moving while costing two idle threads; the SDK's default is two per core.
   */
  private static final int IO_THREADS = 2;

  private final ScheduledExecutorService retryTimer;
  private final EventLoopGroup ioThreads;
  private final AwsCredentialsProvider credentials;
  private final SdkAsyncHttpClient http;
  private final S3AsyncClient s3;
  private final S3Presigner presigner;

  BucketConnection(BucketSettings settings) {
    // One thread for the SDK's timers (retry back-off, timeouts) instead of its default five.
    this.retryTimer = Executors.newSingleThreadScheduledExecutor(
        new ThreadFactoryBuilder().threadNamePrefix("cistern-bucket-timer").daemonThreads(true).build());
    this.credentials = settings.keys() == null
        ? DefaultCredentialsProvider.builder().build()
        : StaticCredentialsProvider.create(
            AwsBasicCredentials.create(settings.keys().accessKeyId(), settings.keys().secretAccessKey()));
    this.ioThreads = nioEventLoopGroup();
    this.http = NettyNioAsyncHttpClient.builder()
        .eventLoopGroup(SdkEventLoopGroup.create(ioThreads))
        .maxConcurrency(settings.maxConnections())
        .connectionTimeout(settings.connectTimeout())
        .readTimeout(settings.idleTimeout())
        .writeTimeout(settings.idleTimeout())
        .build();
    var client = S3AsyncClient.builder()
        .httpClient(http)
        .region(Region.of(settings.region()))
        .credentialsProvider(credentials)
        .forcePathStyle(settings.pathStyle())
        // Checksums only where the API demands them: the SDK's default (a CRC on every upload,
        // sent as an aws-chunked trailer) is refused by several S3-compatible stores, and the
        // digest is checked anyway, by DigestGate on the way up and by readers on the way down.
        .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
        .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED)
        .overrideConfiguration(o -> o
            .scheduledExecutorService(retryTimer)
            // The SDK's standard retries (jittered exponential back-off, 3 attempts), and also
            // AWS's 409 ConditionalRequestConflict, which its docs say to retry: a conditional
            // write raced another on the same key and the retry learns who won (412).
            .retryStrategy(AwsRetryStrategy.standardRetryStrategy().toBuilder()
                .retryOnException(BucketErrors::isConditionalConflict)
                .build()));
    var presign = S3Presigner.builder()
        .region(Region.of(settings.region()))
        .credentialsProvider(credentials)
        .serviceConfiguration(S3Configuration.builder().pathStyleAccessEnabled(settings.pathStyle()).build());
    if (settings.endpoint() != null) {
      client.endpointOverride(settings.endpoint());
      presign.endpointOverride(settings.endpoint());
    }
    this.s3 = client.build();
    this.presigner = presign.build();
  }

  /**
   * The client's event loop, on Cistern's Netty (4.2). The SDK is built for Netty 4.1 and picks
   * channel types by the group's class: it knows {@code NioEventLoopGroup}, deprecated in 4.2 but
   * working, and refuses 4.2's {@code MultiThreadIoEventLoopGroup} even with a channel factory
   * given (it also resolves a datagram channel; aws-sdk-java-v2 #6757). Creating the group here
   * rather than letting the SDK do it lets {@link #close} stop it without the SDK's blocking
   * two-second quiet period.
   */
  @SuppressWarnings("deprecation")
  private static EventLoopGroup nioEventLoopGroup() {
    return new io.netty.channel.nio.NioEventLoopGroup(IO_THREADS, new DefaultThreadFactory("cistern-bucket-io", true));
  }

  /** The requests on {@code bucket} through this client. */
  ObjectRequests requests(String bucket) {
    return new ObjectRequests(s3, presigner, credentials, bucket);
  }

  /** Closes the client, its connections and its threads. */
  @Override
  public void close() {
    presigner.close();
    s3.close();
    http.close();
    if (credentials instanceof AutoCloseable closeable) {
      try {
        closeable.close();
      } catch (Exception e) {
        // Nothing to do about a credentials cache that fails to stop while shutting down.
      }
    }
    retryTimer.shutdownNow();
    // No quiet period: every request has ended or failed with the client's close.
    ioThreads.shutdownGracefully(0, 5, TimeUnit.SECONDS);
  }
}
