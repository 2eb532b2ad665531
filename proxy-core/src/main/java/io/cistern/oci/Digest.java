package io.cistern.oci;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

/**
 * A content digest, {@code algorithm ":" hex}. Only the registered algorithms Cistern can verify
 * are accepted ({@code sha256}, {@code sha512}), and the hex part must be exactly as long as the
 * algorithm's output, in lower case. Because of that, a parsed digest is always safe to use as a
 * file name.
 */
public record Digest(Algorithm algorithm, String hex) implements Reference {

  /** The digest algorithms Cistern verifies. */
  public enum Algorithm {
    SHA256("sha256", "SHA-256", 64),
    SHA512("sha512", "SHA-512", 128);

    private final String prefix;
    private final String jcaName;
    private final int hexLength;

    Algorithm(String prefix, String jcaName, int hexLength) {
      this.prefix = prefix;
      this.jcaName = jcaName;
      this.hexLength = hexLength;
    }

    public String prefix() {
      return prefix;
    }

    public MessageDigest newMessageDigest() {
      try {
        return MessageDigest.getInstance(jcaName);
      } catch (NoSuchAlgorithmException e) {
        throw new IllegalStateException(jcaName + " is part of every Java runtime", e);
      }
    }
  }

  public Digest {
    if (algorithm == null || hex == null || !isLowerHex(hex, algorithm.hexLength)) {
      throw new IllegalArgumentException("not a valid " + algorithm + " digest: " + hex);
    }
  }

  /**
   * Parses {@code sha256:<64 hex>} or {@code sha512:<128 hex>}.
   *
   * @throws RegistryException with {@link ErrorCode#DIGEST_INVALID} for anything else
   */
  public static Digest parse(String text) {
    if (text == null) {
      throw invalid("missing digest");
    }
    int colon = text.indexOf(':');
    if (colon <= 0) {
      throw invalid("digest must be algorithm:hex");
    }
    String prefix = text.substring(0, colon);
    String hex = text.substring(colon + 1);
    for (Algorithm algorithm : Algorithm.values()) {
      if (algorithm.prefix.equals(prefix)) {
        if (!isLowerHex(hex, algorithm.hexLength)) {
          throw invalid("a " + prefix + " digest is " + algorithm.hexLength + " lower-case hex digits");
        }
        return new Digest(algorithm, hex);
      }
    }
    throw invalid("unsupported digest algorithm");
  }

  /**
   * True when {@code text} is shaped like a digest: an algorithm as the OCI grammar spells it
   * ({@code [a-z0-9]+([+._-][a-z0-9]+)*}), then a colon, whatever follows. Such a text is meant as
   * a digest, valid or malformed; any other text is not a digest at all.
   */
  public static boolean looksLikeDigest(String text) {
    // By hand rather than by regex: every manifest request asks, and a matcher per request was a
    // few percent of a cached manifest's cost.
    boolean inComponent = false;
    for (int i = 0; i < text.length(); i++) {
      char c = text.charAt(i);
      if ((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9')) {
        inComponent = true;
      } else if (c == ':') {
        return inComponent;
      } else if (inComponent && (c == '+' || c == '.' || c == '_' || c == '-')) {
        inComponent = false;
      } else {
        return false;
      }
    }
    return false;
  }

  /** The sha256 digest of {@code bytes}. */
  public static Digest sha256Of(byte[] bytes) {
    return of(Algorithm.SHA256, bytes);
  }

  public static Digest of(Algorithm algorithm, byte[] bytes) {
    return fromBytes(algorithm, algorithm.newMessageDigest().digest(bytes));
  }

  /** Builds a digest from a finished {@link MessageDigest} output. */
  public static Digest fromBytes(Algorithm algorithm, byte[] digestBytes) {
    return new Digest(algorithm, HexFormat.of().formatHex(digestBytes));
  }

  /** True when {@code bytes} hash to this digest. */
  public boolean matches(byte[] bytes) {
    return equals(of(algorithm, bytes));
  }

  /**
   * The fallback tag of the referrers API for this digest: {@code sha256-<hex>}, the hex cut to 64
   * characters as the distribution spec says, so that a sha512 subject still makes a valid tag.
   */
  public String referrersTag() {
    return algorithm.prefix + "-" + hex.substring(0, Math.min(hex.length(), 64));
  }

  @Override
  public String toString() {
    return algorithm.prefix + ":" + hex;
  }

  private static boolean isLowerHex(String hex, int length) {
    if (hex.length() != length) {
      return false;
    }
    for (int i = 0; i < length; i++) {
      char c = hex.charAt(i);
      if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
        return false;
      }
    }
    return true;
  }

  private static RegistryException invalid(String message) {
    return new RegistryException(ErrorCode.DIGEST_INVALID, message);
  }
}
