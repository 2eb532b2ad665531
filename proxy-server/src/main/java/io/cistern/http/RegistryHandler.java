package io.cistern.http;

import io.cistern.cache.BlobContent;
import io.cistern.oci.Digest;
import io.cistern.oci.ErrorCode;
import io.cistern.oci.Manifest;
import io.cistern.oci.RegistryException;
import io.cistern.proxy.BlobSource;
import io.cistern.proxy.StoreErrors;
import io.cistern.upstream.UpstreamErrors;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.SimpleChannelInboundHandler;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.DefaultHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpChunkedInput;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaders;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpObject;
import io.netty.handler.codec.http.HttpRequest;
import io.netty.handler.codec.http.HttpResponse;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpUtil;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.stream.ChunkedNioFile;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.util.ArrayDeque;
import java.util.Queue;
import java.util.concurrent.CompletableFuture;
import java.util.function.Function;
import javax.net.ssl.SSLException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * One connection's registry traffic: takes requests in order, asks {@link RegistryApi} for each
 * answer, and writes it. Cached blobs on disk go out by sendfile, no copy through the heap, in
 * {@link FileSlices}; under TLS, where bytes must be encrypted in user space, as chunks of the
 * file. Stored content a tier streams instead of handing out a file, and a range relayed from the
 * upstream, are relayed as they come ({@link StreamedBlobInput}); blobs still downloading follow
 * the temp file, by sendfile too ({@link FollowingFileSlices}), or under TLS in chunks
 * ({@link FollowingBlobInput}).
 *
 * <p>Requests on one connection are answered one at a time, in order (HTTP/1.1 pipelining):
 * reading pauses while an answer is pending (one that is ready at once is written at once), and
 * requests already decoded wait in a queue.
 */
final class RegistryHandler extends SimpleChannelInboundHandler<HttpObject> {

  private static final Logger log = LoggerFactory.getLogger(RegistryHandler.class);
  private static final int TLS_CHUNK_SIZE = 64 * 1024;
  /**
   * Requests one connection may have waiting for their answers. Reading pauses behind a pending
   * answer, but what one read brought in (up to 64 KiB) is decoded whole: without a cap, thousands
   * of tiny requests. HttpServerCodec's depth, which Cistern had before it split the codec.
   */
  private static final int MAX_WAITING = 128;

  private final Function<Exchange, CompletableFuture<Reply>> api;
  private final boolean zeroCopy;
  private final ExchangeRecorder recorder;
  private final EncodedManifests encodedManifests;
  private final Queue<Exchange> waiting = new ArrayDeque<>();
  private IdleConnectionCloser idle;
  private boolean answering;

  /**
   * @param api answers each request ({@link RegistryApi#handle})
   * @param zeroCopy false when TLS sits below this handler and file regions cannot be used
   * @param recorder this connection's recorder, told of each request as it is read
   * @param encodedManifests hot manifests' answers, shared by all connections
   */
  RegistryHandler(Function<Exchange, CompletableFuture<Reply>> api, boolean zeroCopy, ExchangeRecorder recorder,
      EncodedManifests encodedManifests) {
    this.api = api;
    this.zeroCopy = zeroCopy;
    this.recorder = recorder;
    this.encodedManifests = encodedManifests;
  }

  @Override
  public void handlerAdded(ChannelHandlerContext ctx) {
    idle = ctx.pipeline().get(IdleConnectionCloser.class);
  }

  @Override
  protected void channelRead0(ChannelHandlerContext ctx, HttpObject message) {
    // Request bodies (HttpContent) are dropped: the pull API takes none, and the push methods
    // that send one are refused with the connection closed.
    if (message instanceof HttpRequest request) {
      if (waiting.size() == MAX_WAITING || !ctx.channel().isActive()) {
        // Past the depth the client is not waiting for answers: closed, as HttpServerCodec did.
        // The rest of what that read brought in is dropped unrecorded, not logged line by line.
        ctx.close();
        return;
      }
      waiting.add(recorder.arrived(request));
      if (request.decoderResult().isFailure()) {
        // The decoder reads nothing more on this connection; the 400 waits its turn, then closes it.
        ctx.channel().config().setAutoRead(false);
      }
      if (answering) {
        // Pipelined behind an answer still being written: stop reading until the queue drains.
        ctx.channel().config().setAutoRead(false);
      } else {
        answerNext(ctx);
      }
    }
  }

  private void answerNext(ChannelHandlerContext ctx) {
    Exchange exchange = waiting.poll();
    if (exchange == null) {
      answering = false;
      if (!ctx.channel().config().isAutoRead()) {
        ctx.channel().config().setAutoRead(true);
        ctx.read();
      }
      return;
    }
    answering = true;
    HttpRequest request = exchange.request();
    if (request.decoderResult().isFailure()) {
      Reply.Bytes reply = Reply.error(new RegistryException(ErrorCode.UNSUPPORTED, 400, "malformed HTTP request", null, null));
      writeBytes(ctx, request, reply, false).addListener(ChannelFutureListener.CLOSE);
      return;
    }
    CompletableFuture<Reply> reply = api.apply(exchange);
    if (reply.isDone()) {
      // Answered from memory (a hot manifest, an error): write it now, with no hop through the
      // event loop's task queue and no pause in reading.
      answer(ctx, request, outcome(reply));
      return;
    }
    // Reading pauses while the answer is pending, so a client cannot queue unbounded requests;
    // and the connection is not idle meanwhile: the client waits on Cistern.
    ctx.channel().config().setAutoRead(false);
    idle.cisternWaiting();
    reply.whenCompleteAsync((answered, failure) -> {
      idle.cisternResumed();
      answer(ctx, request, failure == null ? answered : failureReply(failure));
    }, ctx.executor());
  }

  private static Reply outcome(CompletableFuture<Reply> done) {
    try {
      return done.join();
    } catch (RuntimeException e) {
      return failureReply(e);
    }
  }

  private void answer(ChannelHandlerContext ctx, HttpRequest request, Reply reply) {
    boolean keepAlive = HttpUtil.isKeepAlive(request);
    ChannelFuture written;
    boolean closeAfter = !keepAlive;
    try {
      if (reply instanceof Reply.Bytes bytes) {
        closeAfter |= bytes.closeAfter();
        written = writeBytes(ctx, request, bytes, keepAlive && !bytes.closeAfter());
      } else if (reply instanceof Reply.ManifestBody found) {
        written = writeManifest(ctx, request, found.manifest(), keepAlive);
      } else if (reply instanceof Reply.BlobHead head) {
        written = writeBlobHead(ctx, request, head, keepAlive);
      } else if (reply instanceof Reply.Redirect redirect) {
        written = writeRedirect(ctx, redirect, keepAlive);
      } else {
        written = writeBlob(ctx, request, (Reply.Blob) reply, keepAlive);
      }
    } catch (RuntimeException e) {
      written = writeBytes(ctx, request, failureReply(e), false);
      closeAfter = true;
    }
    boolean close = closeAfter;
    written.addListener(future -> {
      if (!future.isSuccess() || close) {
        ctx.close();
      } else {
        answerNext(ctx);
      }
    });
  }

  private ChannelFuture writeBytes(ChannelHandlerContext ctx, HttpRequest request, Reply.Bytes reply, boolean keepAlive) {
    HttpResponseStatus status = reply.status();
    // A reply's headers are its request's own: the response takes them as they are rather than a
    // copy, and no trailers (a response with a length has none): on the hot manifest path.
    HttpHeaders headers = reply.headers();
    boolean notModified = status.equals(HttpResponseStatus.OK) && matchesEtag(request, headers.get(HttpHeaderNames.ETAG));
    boolean bodiless = notModified || request.method().equals(HttpMethod.HEAD);
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1,
        notModified ? HttpResponseStatus.NOT_MODIFIED : status,
        bodiless ? Unpooled.EMPTY_BUFFER : Unpooled.wrappedBuffer(reply.body()), headers, EmptyHttpHeaders.INSTANCE);
    // A HEAD or a 304 says the length a GET's 200 has (RFC 9110 allows a 304 no other).
    withVersionAndLength(headers, reply.body().length);
    HttpUtil.setKeepAlive(response, keepAlive);
    return ctx.writeAndFlush(response);
  }

  /** The last headers of an answer from memory; {@link EncodedManifests} encodes the same. */
  static HttpHeaders withVersionAndLength(HttpHeaders headers, long contentLength) {
    return headers.set(Reply.API_VERSION_HEADER, Reply.API_VERSION).set(HttpHeaderNames.CONTENT_LENGTH, contentLength);
  }

  /**
   * A manifest: a plain GET (the connection kept, no condition) takes its answer encoded once
   * ({@link EncodedManifests}), written from below the HTTP encoder; anything else (HEAD, a
   * conditional GET, a connection to close) is written by {@link #writeBytes}, which drops the
   * body and sets the connection header where that is needed.
   */
  private ChannelFuture writeManifest(ChannelHandlerContext ctx, HttpRequest request, Manifest manifest, boolean keepAlive) {
    boolean plainGet = keepAlive && request.method().equals(HttpMethod.GET)
        && !request.headers().contains(HttpHeaderNames.IF_NONE_MATCH);
    if (!plainGet) {
      return writeBytes(ctx, request, Reply.manifest(manifest), keepAlive);
    }
    // Read-only: one array goes out on every connection, and nothing below may write into it.
    return recorder.writeEncoded(Unpooled.wrappedBuffer(encodedManifests.answer(manifest)).asReadOnly(),
        HttpResponseStatus.OK.code(), manifest.bytes().length);
  }

  private ChannelFuture writeBlobHead(ChannelHandlerContext ctx, HttpRequest request, Reply.BlobHead head, boolean keepAlive) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK, Unpooled.EMPTY_BUFFER);
    blobHeaders(response.headers(), head.digest());
    HttpUtil.setContentLength(response, head.size());
    HttpUtil.setKeepAlive(response, keepAlive);
    return ctx.writeAndFlush(response);
  }

  private ChannelFuture writeRedirect(ChannelHandlerContext ctx, Reply.Redirect redirect, boolean keepAlive) {
    FullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.TEMPORARY_REDIRECT,
        Unpooled.EMPTY_BUFFER);
    response.headers().set(HttpHeaderNames.LOCATION, redirect.location().toASCIIString())
        .set(Reply.DIGEST_HEADER, redirect.digest().toString())
        .set(Reply.API_VERSION_HEADER, Reply.API_VERSION);
    HttpUtil.setContentLength(response, 0);
    HttpUtil.setKeepAlive(response, keepAlive);
    return ctx.writeAndFlush(response);
  }

  private ChannelFuture writeBlob(ChannelHandlerContext ctx, HttpRequest request, Reply.Blob blob, boolean keepAlive) {
    BlobSource source = blob.source();
    if (source instanceof BlobSource.Relayed relayed) {
      return writeRelayed(ctx, blob.digest(), relayed, keepAlive);
    }
    long size = source instanceof BlobSource.Stored stored ? stored.size() : ((BlobSource.Downloading) source).blob().expectedSize();
    ByteRange.Request asked = size >= 0 ? ByteRange.parse(request.headers().get(HttpHeaderNames.RANGE), size) : new ByteRange.Whole();
    if (asked instanceof ByteRange.Unsatisfiable) {
      closeSource(source);
      Reply.Bytes refusal = Reply.error(new RegistryException(ErrorCode.RANGE_INVALID, "range not satisfiable for a blob of " + size + " bytes"));
      refusal.headers().set(HttpHeaderNames.CONTENT_RANGE, "bytes */" + size);
      return writeBytes(ctx, request, refusal, keepAlive);
    }
    ByteRange range = asked instanceof ByteRange.Partial partial ? partial.range() : null;
    HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1,
        range != null ? HttpResponseStatus.PARTIAL_CONTENT : HttpResponseStatus.OK);
    blobHeaders(response.headers(), blob.digest());
    HttpUtil.setKeepAlive(response, keepAlive);
    long first = range != null ? range.first() : 0;
    long length = range != null ? range.length() : size;
    if (range != null) {
      response.headers().set(HttpHeaderNames.CONTENT_RANGE, range.contentRange(size));
    }
    if (length >= 0) {
      HttpUtil.setContentLength(response, length);
    } else {
      HttpUtil.setTransferEncodingChunked(response, true);
    }
    if (matchesEtag(request, response.headers().get(HttpHeaderNames.ETAG)) && range == null) {
      closeSource(source);
      FullHttpResponse notModified = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.NOT_MODIFIED, Unpooled.EMPTY_BUFFER);
      blobHeaders(notModified.headers(), blob.digest());
      HttpUtil.setKeepAlive(notModified, keepAlive);
      return ctx.writeAndFlush(notModified);
    }
    if (source instanceof BlobSource.Stored stored && stored.content() instanceof BlobContent.FileRegion file) {
      if (zeroCopy) {
        ctx.write(response);
        return FileSlices.write(ctx, file, first, length);
      }
      // The body first: if the file cannot be read, nothing is written yet, and the failure is
      // answered as a whole response of its own.
      HttpChunkedInput body;
      try {
        body = new HttpChunkedInput(new ChunkedNioFile(file.channel(), file.position() + first, length, TLS_CHUNK_SIZE));
      } catch (IOException e) {
        closeSource(source);
        throw new UncheckedIOException(e);
      }
      ctx.write(response);
      return ctx.writeAndFlush(body);
    }
    if (source instanceof BlobSource.Stored stored) {
      ctx.write(response);
      return ctx.writeAndFlush(new HttpChunkedInput(new StreamedBlobInput((BlobContent.Streamed) stored.content(),
          blob.digest(), first, length, ctx.executor(), ctx.pipeline().get(ChunkedWriteHandler.class), idle)));
    }
    BlobSource.Downloading downloading = (BlobSource.Downloading) source;
    FileChannel channel;
    try {
      channel = downloading.blob().openForReading();
    } catch (IOException e) {
      throw new RegistryException(ErrorCode.UNAVAILABLE, 502, "the download of " + blob.digest() + " failed", null, e);
    }
    long last = length >= 0 ? first + length - 1 : FollowingBlobInput.UNTIL_END;
    ctx.write(response);
    if (zeroCopy) {
      return FollowingFileSlices.write(ctx, downloading.blob(), channel, first, last, idle);
    }
    return ctx.writeAndFlush(new HttpChunkedInput(new FollowingBlobInput(downloading.blob(), channel, first, last,
        ctx.executor(), ctx.pipeline().get(ChunkedWriteHandler.class), idle)));
  }

  /** A range relayed from the upstream as it comes: the range the upstream answered, which is the one asked. */
  private ChannelFuture writeRelayed(ChannelHandlerContext ctx, Digest digest, BlobSource.Relayed relayed, boolean keepAlive) {
    HttpResponse response = new DefaultHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.PARTIAL_CONTENT);
    blobHeaders(response.headers(), digest);
    HttpUtil.setKeepAlive(response, keepAlive);
    response.headers().set(HttpHeaderNames.CONTENT_RANGE,
        new ByteRange(relayed.first(), relayed.last()).contentRange(relayed.size()));
    HttpUtil.setContentLength(response, relayed.content().length());
    ctx.write(response);
    return ctx.writeAndFlush(new HttpChunkedInput(new StreamedBlobInput(relayed.content(), digest, 0,
        relayed.content().length(), ctx.executor(), ctx.pipeline().get(ChunkedWriteHandler.class), idle)));
  }

  private static void blobHeaders(HttpHeaders headers, Digest digest) {
    String text = digest.toString();
    headers.set(HttpHeaderNames.CONTENT_TYPE, "application/octet-stream")
        .set(Reply.DIGEST_HEADER, text)
        .set(HttpHeaderNames.ETAG, Reply.etag(text))
        .set(HttpHeaderNames.ACCEPT_RANGES, "bytes")
        .set(HttpHeaderNames.CACHE_CONTROL, "max-age=31536000, immutable")
        .set(Reply.API_VERSION_HEADER, Reply.API_VERSION);
  }

  private static boolean matchesEtag(HttpRequest request, String etag) {
    String ifNoneMatch = request.headers().get(HttpHeaderNames.IF_NONE_MATCH);
    return etag != null && ifNoneMatch != null && ifNoneMatch.contains(etag);
  }

  private static void closeSource(BlobSource source) {
    if (source instanceof BlobSource.Stored stored) {
      stored.content().close();
    } else if (source instanceof BlobSource.Relayed relayed) {
      relayed.content().close();
    }
  }

  /**
   * Every failure becomes an OCI error body ({@link StoreErrors} says which for the cache's);
   * only a bug is a 500, and it is logged, not sent.
   */
  static Reply.Bytes failureReply(Throwable failure) {
    Throwable cause = UpstreamErrors.unwrap(failure);
    if (cause instanceof RegistryException registryException) {
      return Reply.error(registryException);
    }
    RegistryException refused = StoreErrors.refusal(cause);
    if (refused != null) {
      return Reply.error(refused);
    }
    RegistryException storage = StoreErrors.storageFailure(cause);
    if (storage != null) {
      log.error("cache storage failed", cause);
      return Reply.error(storage);
    }
    log.error("unexpected failure answering a request", cause);
    return Reply.error(new RegistryException(ErrorCode.UNKNOWN, 500, "internal error", null, null));
  }

  @Override
  public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
    // A client that drops the connection or refuses our certificate (SSLException, wrapped by the
    // TLS decoder) is routine, not worth a stack trace.
    boolean routine = cause instanceof IOException || cause.getCause() instanceof SSLException;
    if (!routine) {
      log.warn("closing a connection after an unexpected error", cause);
    }
    ctx.close();
  }

  @Override
  public void channelInactive(ChannelHandlerContext ctx) throws Exception {
    waiting.clear();
    super.channelInactive(ctx);
  }
}
