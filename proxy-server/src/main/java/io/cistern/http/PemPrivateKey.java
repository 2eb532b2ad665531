package io.cistern.http;

import java.io.ByteArrayOutputStream;
import java.util.Arrays;
import java.util.Base64;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * A PEM private key put in the one form the JDK (and so Netty without Bouncy Castle) reads: PKCS#8
 * ({@code BEGIN PRIVATE KEY}). PKCS#1 RSA keys ({@code BEGIN RSA PRIVATE KEY}) and SEC 1 EC keys
 * ({@code BEGIN EC PRIVATE KEY}, what cert-manager and {@code openssl ecparam -genkey} write) hold
 * the same key as PKCS#8's inner octet string, so they are wrapped, not parsed: PKCS#8 adds only
 * the algorithm's identifier (for EC with the curve the SEC 1 key names). PKCS#8 keys, encrypted
 * or not, pass unchanged. This used to be Bouncy Castle's job inside Netty, and cost its whole
 * provider in the jar.
 */
public final class PemPrivateKey {

  private static final Pattern BLOCK = Pattern.compile(
      "-----BEGIN ([A-Z0-9 ]+)-----\\s*(.*?)-----END \\1-----", Pattern.DOTALL);
  /** AlgorithmIdentifier { rsaEncryption (1.2.840.113549.1.1.1), NULL }. */
  private static final byte[] RSA_ALGORITHM = {0x30, 0x0d, 0x06, 0x09, 0x2a, (byte) 0x86, 0x48, (byte) 0x86,
      (byte) 0xf7, 0x0d, 0x01, 0x01, 0x01, 0x05, 0x00};
  /** The OBJECT IDENTIFIER id-ecPublicKey (1.2.840.10045.2.1). */
  private static final byte[] EC_PUBLIC_KEY = {0x06, 0x07, 0x2a, (byte) 0x86, 0x48, (byte) 0xce, 0x3d, 0x02, 0x01};
  private static final int SEQUENCE = 0x30;
  private static final int INTEGER = 0x02;
  private static final int OCTET_STRING = 0x04;
  /** SEC 1's {@code parameters [0] ECParameters}, the curve. */
  private static final int EC_PARAMETERS = 0xa0;

  private PemPrivateKey() {
  }

  /**
   * The first private key in {@code pem} as PKCS#8 PEM.
   *
   * @throws IllegalArgumentException when it holds no private key, an encrypted PKCS#1 or SEC 1 key,
   *     or one that is not DER
   */
  public static String asPkcs8(String pem) {
    Matcher block = BLOCK.matcher(pem);
    while (block.find()) {
      String label = block.group(1);
      switch (label) {
        case "PRIVATE KEY", "ENCRYPTED PRIVATE KEY":
          return block.group();
        case "RSA PRIVATE KEY":
          return pkcs8Pem(RSA_ALGORITHM, der(block.group(2), label));
        case "EC PRIVATE KEY":
          byte[] sec1 = der(block.group(2), label);
          return pkcs8Pem(tlv(SEQUENCE, EC_PUBLIC_KEY, curveOf(sec1)), sec1);
        default:
          // EC PARAMETERS before the key (openssl ecparam -genkey), certificates in a combined file.
      }
    }
    throw new IllegalArgumentException("no PEM private key (BEGIN PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY)");
  }

  private static byte[] der(String body, String label) {
    if (body.contains(":")) {
      throw new IllegalArgumentException("the " + label + " is encrypted (Proc-Type header); give it unencrypted");
    }
    try {
      return Base64.getMimeDecoder().decode(body);
    } catch (IllegalArgumentException e) {
      throw new IllegalArgumentException("the " + label + " is not base64: " + e.getMessage());
    }
  }

  /**
   * The curve of a SEC 1 key: ECPrivateKey ::= SEQUENCE { version INTEGER, privateKey OCTET STRING,
   * parameters [0] ECParameters OPTIONAL, publicKey [1] BIT STRING OPTIONAL }.
   */
  private static byte[] curveOf(byte[] sec1) {
    Der key = new Der(sec1, 0, sec1.length).enter(SEQUENCE);
    key.skip(INTEGER);
    key.skip(OCTET_STRING);
    if (!key.at(EC_PARAMETERS)) {
      throw new IllegalArgumentException("the EC PRIVATE KEY does not name its curve");
    }
    Der parameters = key.enter(EC_PARAMETERS);
    return Arrays.copyOfRange(sec1, parameters.position, parameters.end);
  }

  /** PrivateKeyInfo ::= SEQUENCE { version INTEGER 0, algorithm AlgorithmIdentifier, privateKey OCTET STRING }. */
  private static String pkcs8Pem(byte[] algorithm, byte[] key) {
    byte[] info = tlv(SEQUENCE, new byte[] {INTEGER, 1, 0}, algorithm, tlv(OCTET_STRING, key));
    return "-----BEGIN PRIVATE KEY-----\n"
        + Base64.getMimeEncoder(64, new byte[] {'\n'}).encodeToString(info)
        + "\n-----END PRIVATE KEY-----\n";
  }

  private static byte[] tlv(int tag, byte[]... parts) {
    ByteArrayOutputStream content = new ByteArrayOutputStream();
    for (byte[] part : parts) {
      content.writeBytes(part);
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream();
    out.write(tag);
    int length = content.size();
    if (length < 0x80) {
      out.write(length);
    } else {
      int bytes = (32 - Integer.numberOfLeadingZeros(length) + 7) / 8;
      out.write(0x80 | bytes);
      for (int i = bytes - 1; i >= 0; i--) {
        out.write(length >>> (8 * i));
      }
    }
    out.writeBytes(content.toByteArray());
    return out.toByteArray();
  }

  /** A cursor over DER elements between {@code position} and {@code end}. */
  private static final class Der {
    private final byte[] bytes;
    private int position;
    private final int end;

    Der(byte[] bytes, int position, int end) {
      this.bytes = bytes;
      this.position = position;
      this.end = end;
    }

    boolean at(int tag) {
      return position < end && (bytes[position] & 0xff) == tag;
    }

    /** The contents of the element here, which must have {@code tag}; moves past it. */
    Der enter(int tag) {
      if (!at(tag) || position + 1 >= end) {
        throw new IllegalArgumentException("the key is not the DER it names (expected tag 0x"
            + Integer.toHexString(tag) + " at byte " + position + ")");
      }
      int length = bytes[position + 1] & 0xff;
      int start = position + 2;
      if (length >= 0x80) {
        int count = length & 0x7f;
        if (count == 0 || count > 3 || start + count > end) {
          throw new IllegalArgumentException("the key's DER has a bad length at byte " + position);
        }
        length = 0;
        for (int i = 0; i < count; i++) {
          length = (length << 8) | (bytes[start + i] & 0xff);
        }
        start += count;
      }
      if (start + length > end) {
        throw new IllegalArgumentException("the key's DER is truncated at byte " + position);
      }
      position = start + length;
      return new Der(bytes, start, start + length);
    }

    void skip(int tag) {
      enter(tag);
    }
  }
}
