package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotSame;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Manifest;
import io.cistern.oci.MediaTypes;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.EmptyHttpHeaders;
import io.netty.handler.codec.http.HttpRequestDecoder;
import io.netty.handler.codec.http.HttpResponseEncoder;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import io.netty.handler.stream.ChunkedWriteHandler;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.function.Function;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/**
 * A plain GET of a manifest is answered with bytes encoded once ({@link EncodedManifests}),
 * written past Netty's HTTP encoder; every other manifest request goes through the encoder. Both
 * must put the same bytes on the wire, keep a connection's answers in order, and be recorded
 * alike. The registry API is a stand-in here: what is under test is the writing.
 */
@Timeout(value = 60, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
class EncodedManifestAnswerTest {

  private static final Manifest FIRST = Manifest.of(MediaTypes.OCI_MANIFEST,
      "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"layers\":[]}".getBytes(StandardCharsets.UTF_8));
  private static final Manifest SECOND = Manifest.of(MediaTypes.OCI_INDEX,
      "{\"schemaVersion\":2,\"manifests\":[]}".getBytes(StandardCharsets.UTF_8));
  private static final Pattern CONTENT_LENGTH = Pattern.compile("(?i)\r\ncontent-length: (\\d+)\r\n");

  private final Map<String, Manifest> manifests = Map.of(
      "/v2/app/manifests/first", FIRST,
      "/v2/app/manifests/second", SECOND);
  /** Records arrive on the event loop once an answer's write has completed, which may be after the client read it. */
  private final BlockingQueue<ServedRequest> records = new LinkedBlockingQueue<>();
  private final EncodedManifests encoded = new EncodedManifests(EncodedManifests.MAX_BYTES);
  private RegistryServer server;
  private int port;

  @BeforeEach
  void start() throws InterruptedException {
    server = new RegistryServer(exchange -> {
      Manifest manifest = manifests.get(exchange.path());
      return CompletableFuture.completedFuture(manifest != null
          ? new Reply.ManifestBody(manifest)
          : Reply.text(HttpResponseStatus.NOT_FOUND, "no such manifest"));
    }, null, Duration.ofSeconds(30), records::add, Clock.systemUTC(), encoded);
    port = server.start(new InetSocketAddress("127.0.0.1", 0)).getPort();
  }

  @AfterEach
  void stop() {
    server.close();
  }

  @Test
  void aPlainGetGetsTheBytesTheEncoderWritesForTheSameAnswer() throws IOException {
    try (Socket socket = connect()) {
      send(socket, "GET /v2/app/manifests/first HTTP/1.1\r\nHost: x\r\n\r\n");
      byte[] encodedOnce = readAnswer(socket.getInputStream(), true);
      assertTrue(encoded.holds(FIRST.digest()), "a plain GET took the encoded answer");
      // A condition that does not match: answered 200, through the encoder.
      send(socket, "GET /v2/app/manifests/first HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"sha256:other\"\r\n\r\n");
      byte[] throughEncoder = readAnswer(socket.getInputStream(), true);

      assertArrayEquals(throughEncoder, encodedOnce);
      String head = new String(encodedOnce, StandardCharsets.ISO_8859_1);
      assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
      assertTrue(head.contains("Docker-Content-Digest: " + FIRST.digest() + "\r\n"), head);
      assertTrue(head.endsWith("\r\n\r\n" + new String(FIRST.bytes(), StandardCharsets.ISO_8859_1)), head);
    }
  }

  @Test
  void encodingMatchesNettysEncoderForTheHeadersTheHandlerSends() {
    assertArrayEquals(throughNettysEncoder(SECOND), EncodedManifests.encode(SECOND));
    // Chars past 0xFF pass Netty's check of header values; its encoder writes them as '?', and so
    // must this, never as their low bytes (here a carriage return and a line feed).
    Manifest splitting = new Manifest(SECOND.digest(), "application/json\u010d\u010aSet-Cookie: x=y", SECOND.bytes());
    byte[] encoded = EncodedManifests.encode(splitting);
    assertArrayEquals(throughNettysEncoder(splitting), encoded);
    assertTrue(new String(encoded, StandardCharsets.ISO_8859_1).contains("content-type: application/json??Set-Cookie: x=y\r\n"));
  }

  private static byte[] throughNettysEncoder(Manifest manifest) {
    DefaultFullHttpResponse response = new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, HttpResponseStatus.OK,
        Unpooled.wrappedBuffer(manifest.bytes()),
        RegistryHandler.withVersionAndLength(Reply.manifest(manifest).headers(), manifest.bytes().length),
        EmptyHttpHeaders.INSTANCE);
    EmbeddedChannel channel = new EmbeddedChannel(new HttpResponseEncoder());
    channel.writeOutbound(response);
    return outbound(channel);
  }

  /**
   * On a channel of its own, where every request of one read is decoded before any is answered,
   * whatever the socket's timing: the pending answer is first out, and what waited behind it
   * follows in order, the encoded answer and the malformed request's 400 included.
   */
  @Test
  void answersPipelinedBehindAPendingOneWaitTheirTurnMalformedRequestsToo() {
    CompletableFuture<Reply> pending = new CompletableFuture<>();
    Function<Exchange, CompletableFuture<Reply>> api = exchange -> exchange.path().endsWith("/slow")
        ? pending
        : CompletableFuture.completedFuture(new Reply.ManifestBody(FIRST));
    List<ServedRequest> served = new ArrayList<>();
    EmbeddedChannel channel = registryChannel(api, served::add);

    channel.writeInbound(Unpooled.copiedBuffer("GET /v2/app/manifests/slow HTTP/1.1\r\n\r\n"
        + "GET /v2/app/manifests/first HTTP/1.1\r\n\r\n"
        + "GET /v2/ HTTX/1.1\r\n\r\n", StandardCharsets.US_ASCII));
    assertNull(channel.readOutbound(), "nothing overtakes the pending answer");
    pending.complete(Reply.text(HttpResponseStatus.OK, "at last"));
    channel.runPendingTasks();

    String written = new String(outbound(channel), StandardCharsets.ISO_8859_1);
    int second = written.indexOf("HTTP/1.1 200 OK\r\n", 1);
    int third = written.indexOf("HTTP/1.1 400 Bad Request\r\n");
    assertTrue(written.startsWith("HTTP/1.1 200 OK\r\n") && second > 0 && third > second, written);
    assertTrue(written.substring(0, second).endsWith("\r\n\r\nat last"), written);
    assertEquals(new String(EncodedManifests.encode(FIRST), StandardCharsets.ISO_8859_1), written.substring(second, third));
    assertFalse(channel.isOpen(), "closed after the 400");
    assertEquals(List.of(200, 200, 400), served.stream().map(ServedRequest::status).toList(),
        "each answer recorded against its own request");
  }

  private static EmbeddedChannel registryChannel(Function<Exchange, CompletableFuture<Reply>> api, RequestListener listener) {
    ExchangeRecorder recorder = new ExchangeRecorder(listener, new ActiveRequests(), Clock.systemUTC());
    return new EmbeddedChannel(new IdleConnectionCloser(Duration.ofMinutes(1)),
        new HttpRequestDecoder(), new HttpResponseEncoder(), recorder, new ChunkedWriteHandler(),
        new RegistryHandler(api, true, recorder, new EncodedManifests(EncodedManifests.MAX_BYTES)));
  }

  private static byte[] outbound(EmbeddedChannel channel) {
    ByteArrayOutputStream written = new ByteArrayOutputStream();
    for (ByteBuf part; (part = channel.readOutbound()) != null; part.release()) {
      byte[] bytes = new byte[part.readableBytes()];
      part.readBytes(bytes);
      written.writeBytes(bytes);
    }
    return written.toByteArray();
  }

  @Test
  void aConnectionWithMoreThan128RequestsWaitingIsClosed() {
    List<ServedRequest> served = new ArrayList<>();
    EmbeddedChannel channel = registryChannel(exchange -> new CompletableFuture<>(), served::add);

    // One pending answer, then 128 behind it: still open. One read brings them all.
    channel.writeInbound(Unpooled.copiedBuffer("GET /v2/ HTTP/1.1\r\n\r\n".repeat(129), StandardCharsets.US_ASCII));
    assertTrue(channel.isOpen(), "128 waiting is the limit, not past it");
    channel.writeInbound(Unpooled.copiedBuffer("GET /v2/ HTTP/1.1\r\n\r\n".repeat(50), StandardCharsets.US_ASCII));
    assertFalse(channel.isOpen(), "the 129th waiting request closes the connection");
    assertEquals(129, served.size(), "the requests taken are recorded (cut short), the rest of that read is not");
    assertTrue(served.stream().noneMatch(ServedRequest::complete));
  }

  @Test
  void headConditionalAndHttp10RequestsAreAnsweredThroughTheEncoder() throws IOException {
    try (Socket socket = connect()) {
      // Pipelined in one write: a HEAD's answer has no body, so the GET's answer must follow it at once.
      send(socket, "HEAD /v2/app/manifests/first HTTP/1.1\r\nHost: x\r\n\r\n"
          + "GET /v2/app/manifests/first HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"" + FIRST.digest() + "\"\r\n\r\n"
          + "GET /v2/app/manifests/second HTTP/1.1\r\nHost: x\r\n\r\n");
      String head = new String(readAnswer(socket.getInputStream(), false), StandardCharsets.ISO_8859_1);
      assertTrue(head.startsWith("HTTP/1.1 200 OK\r\n"), head);
      assertEquals(String.valueOf(FIRST.bytes().length), contentLength(head), "a HEAD says the GET's length");
      String notModified = new String(readAnswer(socket.getInputStream(), false), StandardCharsets.ISO_8859_1);
      assertTrue(notModified.startsWith("HTTP/1.1 304 Not Modified\r\n"), notModified);
      assertEquals(String.valueOf(FIRST.bytes().length), contentLength(notModified), "a 304 says the 200's length, if any");
      assertFalse(encoded.holds(FIRST.digest()), "HEAD and a matching condition went through the encoder");
      byte[] second = readAnswer(socket.getInputStream(), true);
      assertArrayEquals(EncodedManifests.encode(SECOND), second);
    }
    encoded.answer(FIRST); // would a HTTP/1.0 GET take it, it is there to be taken
    try (Socket socket = connect()) {
      send(socket, "GET /v2/app/manifests/first HTTP/1.0\r\n\r\n");
      byte[] answer = socket.getInputStream().readAllBytes(); // HTTP/1.0 without keep-alive: closed after it
      String text = new String(answer, StandardCharsets.ISO_8859_1);
      assertTrue(text.startsWith("HTTP/1.1 200 OK\r\n"), text);
      assertTrue(text.endsWith(new String(FIRST.bytes(), StandardCharsets.ISO_8859_1)), text);
      assertTrue(text.contains("\r\nconnection: close\r\n"), "HTTP/1.0 is told the connection closes: " + text);
    }
  }

  @Test
  void pipelinedAnswersOfBothKindsLeaveInOrderAndAreEachRecorded() throws Exception {
    String[] paths = {"/v2/app/manifests/first", "/v2/app/manifests/missing", "/v2/app/manifests/second",
        "/v2/app/manifests/first"};
    StringBuilder requests = new StringBuilder();
    for (String path : paths) {
      requests.append("GET ").append(path).append(" HTTP/1.1\r\nHost: x\r\n\r\n");
    }
    try (Socket socket = connect()) {
      send(socket, requests.toString());
      assertArrayEquals(EncodedManifests.encode(FIRST), readAnswer(socket.getInputStream(), true));
      String missing = new String(readAnswer(socket.getInputStream(), true), StandardCharsets.ISO_8859_1);
      assertTrue(missing.startsWith("HTTP/1.1 404 Not Found\r\n"), missing);
      assertArrayEquals(EncodedManifests.encode(SECOND), readAnswer(socket.getInputStream(), true));
      assertArrayEquals(EncodedManifests.encode(FIRST), readAnswer(socket.getInputStream(), true));
    }
    List<ServedRequest> served = new ArrayList<>();
    for (int i = 0; i < paths.length; i++) {
      served.add(records.poll(30, TimeUnit.SECONDS));
    }

    assertEquals(List.of(paths), served.stream().map(ServedRequest::uri).toList());
    assertEquals(List.of(200, 404, 200, 200), served.stream().map(ServedRequest::status).toList());
    assertEquals(List.of((long) FIRST.bytes().length, (long) "no such manifest".length(), (long) SECOND.bytes().length,
        (long) FIRST.bytes().length), served.stream().map(ServedRequest::bytes).toList());
    assertTrue(served.stream().allMatch(ServedRequest::complete), served.toString());
  }

  @Test
  void aManifestIsEncodedOnceAndAgainOnlyWhenItsMediaTypeDiffers() {
    EncodedManifests answers = new EncodedManifests(EncodedManifests.MAX_BYTES);
    byte[] first = answers.answer(FIRST);
    assertSame(first, answers.answer(FIRST), "encoded once, then reused");

    Manifest sameBytesOtherType = new Manifest(FIRST.digest(), MediaTypes.DOCKER_MANIFEST, FIRST.bytes());
    byte[] other = answers.answer(sameBytesOtherType);
    assertNotSame(first, other);
    assertTrue(new String(other, StandardCharsets.ISO_8859_1).contains("content-type: " + MediaTypes.DOCKER_MANIFEST + "\r\n"));
    assertFalse(new String(other, StandardCharsets.ISO_8859_1).contains("content-type: " + MediaTypes.OCI_MANIFEST));
  }

  @Test
  void aMediaTypeNettyWouldRefuseIsRefusedHereToo() {
    Manifest smuggling = new Manifest(FIRST.digest(), "application/json\r\nSet-Cookie: x=y", FIRST.bytes());
    assertThrows(IllegalArgumentException.class, () -> EncodedManifests.encode(smuggling));
  }

  private Socket connect() throws IOException {
    Socket socket = new Socket("127.0.0.1", port);
    socket.setSoTimeout(30_000);
    return socket;
  }

  private static void send(Socket socket, String requests) throws IOException {
    OutputStream out = socket.getOutputStream();
    out.write(requests.getBytes(StandardCharsets.ISO_8859_1));
    out.flush();
  }

  /** One answer's bytes: its head, and its body of content-length bytes if it has one. */
  private static byte[] readAnswer(InputStream in, boolean withBody) throws IOException {
    ByteArrayOutputStream answer = new ByteArrayOutputStream();
    int matched = 0;
    while (matched < 4) {
      int next = in.read();
      if (next < 0) {
        throw new IOException("closed mid-head: " + answer);
      }
      answer.write(next);
      matched = next == "\r\n\r\n".charAt(matched) ? matched + 1 : (next == '\r' ? 1 : 0);
    }
    if (withBody) {
      answer.writeBytes(in.readNBytes(Integer.parseInt(contentLength(answer.toString(StandardCharsets.ISO_8859_1)))));
    }
    return answer.toByteArray();
  }

  private static String contentLength(String head) {
    Matcher length = CONTENT_LENGTH.matcher(head);
    assertTrue(length.find(), head);
    return length.group(1);
  }
}
