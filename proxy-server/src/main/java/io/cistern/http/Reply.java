package io.cistern.http;

import io.cistern.oci.Digest;
import io.cistern.oci.ErrorBody;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import io.cistern.oci.RegistryException;
import io.cistern.proxy.BlobSource;
import io.netty.handler.codec.http.DefaultHttpHeaders;
import io.netty.handler.codec.http.DefaultHttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeadersFactory;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpResponseStatus;
import java.net.URI;
import java.nio.charset.StandardCharsets;

/** What a request is answered with, before it is written to the connection. */
sealed interface Reply {

  String API_VERSION_HEADER = "Docker-Distribution-API-Version";
  String API_VERSION = "registry/2.0";
  String DIGEST_HEADER = "Docker-Content-Digest";

  /** A reply whose body is in memory: JSON, a manifest, an error. */
  record Bytes(HttpResponseStatus status, HttpHeaders headers, byte[] body, boolean closeAfter) implements Reply {}

  /** A manifest, cached or just fetched: its headers and body are {@link Reply#manifest(Manifest)}'s. */
  record ManifestBody(Manifest manifest) implements Reply {}

  /** A blob from the cache or from a download under way. */
  record Blob(Digest digest, BlobSource source) implements Reply {}

  /** A blob to be fetched elsewhere (the bucket, by a presigned URL): a 307 there. */
  record Redirect(Digest digest, URI location) implements Reply {}

  /** A blob's headers only (HEAD), with its size. */
  record BlobHead(Digest digest, long size) implements Reply {}

  static Bytes json(HttpResponseStatus status, byte[] body) {
    HttpHeaders headers = new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, MediaTypes.JSON);
    return new Bytes(status, headers, body, false);
  }

  /**
   * A hot manifest's headers: the names are the constants below, so only the values (the media
   * type comes from the upstream) are checked, not the names on every request.
   */
  HttpHeadersFactory CONSTANT_NAMES = DefaultHttpHeadersFactory.headersFactory().withNameValidation(false);

  static Bytes manifest(Manifest manifest) {
    String digest = manifest.digest().toString();
    HttpHeaders headers = CONSTANT_NAMES.newHeaders()
        .set(HttpHeaderNames.CONTENT_TYPE, manifest.mediaType())
        .set(DIGEST_HEADER, digest)
        .set(HttpHeaderNames.ETAG, etag(digest));
    return new Bytes(HttpResponseStatus.OK, headers, manifest.bytes(), false);
  }

  static Bytes error(RegistryException error) {
    Bytes reply = json(HttpResponseStatus.valueOf(error.status()), ErrorBody.render(error.code(), error.getMessage()));
    error.retryAfter().ifPresent(wait -> reply.headers().set(HttpHeaderNames.RETRY_AFTER, Math.max(1, wait.toSeconds())));
    return reply;
  }

  /** 405 for the push API; the connection closes, so an unread request body cannot linger. */
  static Bytes unsupportedMethod(String method) {
    Bytes reply = error(new RegistryException(ErrorCode.UNSUPPORTED,
        "Cistern is a pull-through cache: " + method + " is not supported"));
    reply.headers().set(HttpHeaderNames.ALLOW, "GET, HEAD");
    return new Bytes(reply.status(), reply.headers(), reply.body(), true);
  }

  /** 401 with the challenge that tells clients which credentials to send. */
  static Bytes unauthorized(String challenge) {
    Bytes reply = error(new RegistryException(ErrorCode.UNAUTHORIZED, "authentication required"));
    reply.headers().set(HttpHeaderNames.WWW_AUTHENTICATE, challenge);
    return reply;
  }

  static Bytes text(HttpResponseStatus status, String body) {
    HttpHeaders headers = new DefaultHttpHeaders().set(HttpHeaderNames.CONTENT_TYPE, "text/plain; charset=utf-8");
    return new Bytes(status, headers, body.getBytes(StandardCharsets.UTF_8), false);
  }

  /** A content's entity tag: its digest, quoted. */
  static String etag(String digest) {
    return '"' + digest + '"';
  }
}
