package io.cistern.http;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import io.cistern.oci.Digest;
import io.cistern.oci.Manifest;
import io.netty.handler.codec.http.HttpHeaders;
import java.util.Iterator;
import java.util.Map;

/**
 * Hot manifests' whole answers to a plain GET (status line, headers and body, the bytes Netty's
 * encoder would write for them), encoded once and then copied out as they are: building and
 * encoding the same headers into the same bytes on every request was about a fifth of a cached
 * manifest GET's CPU.
 * Which requests may take them is {@link RegistryHandler}'s call; any other (HEAD, a conditional
 * GET, a connection to close after the answer) is answered through the encoder as before.
 *
 * <p>Shared by all connections' loops: Caffeine's cache is safe to read and fill from any thread,
 * and two loops encoding the same manifest at once both get the same bytes, the later put
 * replacing the earlier. An entry is never written after it is put, so readers need no lock.
 */
final class EncodedManifests {

  /** Answers kept at most, in bytes: a few thousand typical manifests, a fraction of the heap. */
  static final long MAX_BYTES = 8 << 20;

  private static final byte[] STATUS_LINE = ascii("HTTP/1.1 200 OK\r\n");

  private final Cache<Digest, Encoded> answers;

  EncodedManifests(long maxBytes) {
    // Its upkeep on the caller's thread: no hand-off to a pool per request on the hot path.
    this.answers = Caffeine.newBuilder().executor(Runnable::run).maximumWeight(maxBytes)
        .weigher((Digest digest, Encoded encoded) -> encoded.bytes.length).build();
  }

  /**
   * The 200 answer to a plain GET of this manifest, to be written to the connection as it is.
   *
   * @throws IllegalArgumentException if a header value is one Netty refuses (the media type comes
   *     from the upstream), as answering through the encoder would
   */
  byte[] answer(Manifest manifest) {
    // Keyed by digest (no key to allocate per request); the media type is checked because it
    // comes from whoever served the manifest, and the same bytes might be stored under two.
    Encoded encoded = answers.getIfPresent(manifest.digest());
    if (encoded == null || !encoded.mediaType.equals(manifest.mediaType())) {
      encoded = new Encoded(manifest.mediaType(), encode(manifest));
      answers.put(manifest.digest(), encoded);
    }
    return encoded.bytes;
  }

  /** Whether this manifest's answer is held (tests: which requests took it). */
  boolean holds(Digest digest) {
    return answers.getIfPresent(digest) != null;
  }

  /**
   * The bytes: the headers are the ones {@link RegistryHandler} sends a manifest with, built and
   * checked by the same code, in the same order, written as Netty's encoder writes them.
   */
  static byte[] encode(Manifest manifest) {
    HttpHeaders headers = RegistryHandler.withVersionAndLength(Reply.manifest(manifest).headers(), manifest.bytes().length);
    int length = STATUS_LINE.length + 2 + manifest.bytes().length;
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
      Map.Entry<CharSequence, CharSequence> header = it.next();
      length += header.getKey().length() + 2 + header.getValue().length() + 2;
    }
    byte[] bytes = new byte[length];
    int at = put(bytes, 0, STATUS_LINE);
    for (Iterator<Map.Entry<CharSequence, CharSequence>> it = headers.iteratorCharSequence(); it.hasNext(); ) {
      Map.Entry<CharSequence, CharSequence> header = it.next();
      at = put(bytes, at, header.getKey());
      at = put(bytes, at, ": ");
      at = put(bytes, at, header.getValue());
      at = put(bytes, at, "\r\n");
    }
    at = put(bytes, at, "\r\n");
    System.arraycopy(manifest.bytes(), 0, bytes, at, manifest.bytes().length);
    return bytes;
  }

  /**
   * As Netty's encoder writes header text: a char above 0xFF becomes '?', never its low byte
   * (Netty's check of header values refuses control characters, not U+010A, whose low byte is a
   * line feed).
   */
  private static int put(byte[] into, int at, CharSequence text) {
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      into[at++] = (byte) (c > 0xFF ? '?' : c);
    }
    return at;
  }

  private static int put(byte[] into, int at, byte[] bytes) {
    System.arraycopy(bytes, 0, into, at, bytes.length);
    return at + bytes.length;
  }

  private static byte[] ascii(String text) {
    byte[] bytes = new byte[text.length()];
    put(bytes, 0, text);
    return bytes;
  }

  private record Encoded(String mediaType, byte[] bytes) {}
}
