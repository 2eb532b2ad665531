package io.cistern.auth;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;

/**
 * Users and their bcrypt hashes, as {@code htpasswd -B} writes them ({@code user:$2y$…}). Other
 * schemes htpasswd knows (MD5 {@code $apr1$}, SHA-1, crypt, plain text) are refused when the file
 * is read: they are too weak to guard anything, and refusing is clearer than never matching. So is
 * a bcrypt hash that is malformed (a cost outside 4–31, a character outside bcrypt's alphabet),
 * which would otherwise fail every login of its user with an error.
 */
public final class Htpasswd {

  /** Checked against when the user is unknown, so a miss costs as long as a wrong password. */
  private static final String DECOY = OpenBSDBCrypt.generate("decoy".toCharArray(), new byte[16], 10);
  /**
   * A bcrypt hash as {@link OpenBSDBCrypt#checkPassword} takes it: version, two-digit cost from 04
   * to 31, then 22 characters of salt and 31 of hash in bcrypt's own base64 alphabet.
   */
  private static final Pattern BCRYPT = Pattern.compile("\\$2[aby]\\$(0[4-9]|[12][0-9]|3[01])\\$[./A-Za-z0-9]{53}");

  private final Map<String, String> hashes;

  private Htpasswd(Map<String, String> hashes) {
    this.hashes = Map.copyOf(hashes);
  }

  public static Htpasswd read(Path file) throws IOException {
    return parse(Files.readAllLines(file, StandardCharsets.UTF_8), file.toString());
  }

  /** @param source names the lines' origin in error messages */
  public static Htpasswd parse(List<String> lines, String source) {
    Map<String, String> hashes = new HashMap<>();
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i).strip();
      if (line.isEmpty() || line.startsWith("#")) {
        continue;
      }
      int colon = line.indexOf(':');
      if (colon <= 0) {
        throw new IllegalArgumentException(source + " line " + (i + 1) + ": expected user:hash");
      }
      String hash = line.substring(colon + 1);
      if (!hash.startsWith("$2")) {
        throw new IllegalArgumentException(source + " line " + (i + 1) + ": the hash of '" + line.substring(0, colon)
            + "' is not bcrypt; create the file with htpasswd -B");
      }
      if (!BCRYPT.matcher(hash).matches()) {
        throw new IllegalArgumentException(source + " line " + (i + 1) + ": the bcrypt hash of '" + line.substring(0, colon)
            + "' is malformed; create it again with htpasswd -B");
      }
      hashes.put(line.substring(0, colon), hash);
    }
    return new Htpasswd(hashes);
  }

  /** Deliberately slow (bcrypt): callers keep it off event loops and remember the outcome. */
  public boolean verify(String user, String password) {
    String hash = hashes.get(user);
    boolean matches = OpenBSDBCrypt.checkPassword(hash != null ? hash : DECOY, password.toCharArray());
    return hash != null && matches;
  }
}
