package io.cistern.cache.bucket;

import java.net.URI;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import software.amazon.awssdk.http.SdkHttpMethod;
import software.amazon.awssdk.http.SdkHttpRequest;
import software.amazon.awssdk.http.auth.aws.signer.AwsV4HttpSigner;
import software.amazon.awssdk.identity.spi.AwsCredentialsIdentity;

/**
 * Signs a presigned GET again with the SDK's SigV4 signer at a time an hour ago: the one way to
 * have a URL whose lifetime is over without waiting for it, since the presigner signs at now.
 */
final class PastSigner {

  private PastSigner() {}

  /** {@code presigned}'s request, signed an hour ago with a lifetime of {@code ttl}. */
  static URI presignedAnHourAgo(URI presigned, Duration ttl) {
    URI unsigned = URI.create(presigned.getScheme() + "://" + presigned.getRawAuthority() + presigned.getRawPath());
    Clock anHourAgo = Clock.fixed(Instant.now().minus(Duration.ofHours(1)), ZoneOffset.UTC);
    return AwsV4HttpSigner.create().sign(r -> r
            .identity(AwsCredentialsIdentity.create(S3ProxyServer.ACCESS_KEY, S3ProxyServer.SECRET_KEY))
            .request(SdkHttpRequest.builder().method(SdkHttpMethod.GET).uri(unsigned).build())
            .putProperty(AwsV4HttpSigner.SERVICE_SIGNING_NAME, "s3")
            .putProperty(AwsV4HttpSigner.REGION_NAME, "us-east-1")
            .putProperty(AwsV4HttpSigner.AUTH_LOCATION, AwsV4HttpSigner.AuthLocation.QUERY_STRING)
            .putProperty(AwsV4HttpSigner.EXPIRATION_DURATION, ttl)
            .putProperty(AwsV4HttpSigner.SIGNING_CLOCK, anHourAgo)
            .putProperty(AwsV4HttpSigner.DOUBLE_URL_ENCODE, false)
            .putProperty(AwsV4HttpSigner.NORMALIZE_PATH, false)
            .putProperty(AwsV4HttpSigner.PAYLOAD_SIGNING_ENABLED, false))
        .request().getUri();
  }
}
