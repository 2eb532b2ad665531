package io.cistern.auth;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ExecutorService;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;

class HtpasswdTest {

  private static final String ALICE = OpenBSDBCrypt.generate("2y", "s3cret".toCharArray(), new byte[16], 4);
  private static final String BOB = OpenBSDBCrypt.generate("2b", "pa:ss".toCharArray(), new byte[16], 4);

  @Test
  void bcryptLinesAsHtpasswdWritesThemVerify() {
    Htpasswd users = Htpasswd.parse(List.of("# users", "", "alice:" + ALICE, "bob:" + BOB), "test");
    assertTrue(users.verify("alice", "s3cret"));
    assertTrue(users.verify("bob", "pa:ss"), "a password may contain colons");
    assertFalse(users.verify("alice", "S3cret"));
    assertFalse(users.verify("carol", "s3cret"), "an unknown user never matches");
  }

  @Test
  void weakerHashSchemesAreRefusedWithTheLineThatHasThem() {
    IllegalArgumentException md5 = assertThrows(IllegalArgumentException.class,
        () -> Htpasswd.parse(List.of("alice:" + ALICE, "bob:$apr1$salt$hash"), "users.htpasswd"));
    assertTrue(md5.getMessage().contains("users.htpasswd line 2"), md5.getMessage());
    assertTrue(md5.getMessage().contains("htpasswd -B"), md5.getMessage());
    assertThrows(IllegalArgumentException.class, () -> Htpasswd.parse(List.of("no-colon-here"), "f"));
    assertThrows(IllegalArgumentException.class, () -> Htpasswd.parse(List.of("plain:password"), "f"));
  }

  @Test
  void aMalformedBcryptHashIsRefusedWhenTheFileIsReadNotAtEveryLogin() {
    String body = ALICE.substring("$2y$04$".length());
    for (String hash : List.of("$2y$99$" + body, "$2y$03$" + body, "$2y$04$" + "!".repeat(53), "$2q$04$" + body,
        "$2y$04$" + body.substring(1))) {
      IllegalArgumentException malformed = assertThrows(IllegalArgumentException.class,
          () -> Htpasswd.parse(List.of("# users", "alice:" + hash), "users.htpasswd"), hash);
      assertTrue(malformed.getMessage().contains("users.htpasswd line 2"), malformed.getMessage());
    }
    assertDoesNotThrow(() -> Htpasswd.parse(List.of("alice:" + ALICE.replace("$2y$04$", "$2y$31$")), "t"), "31 is bcrypt's top cost");
  }

  @Test
  void basicCredentialsAreCheckedAgainstTheUsersAndMalformedHeadersAreRefused() {
    ExecutorService verifier = Executors.newSingleThreadExecutor();
    try {
      ClientAuthenticator authenticator = new ClientAuthenticator("R", Htpasswd.parse(List.of("alice:" + ALICE), "t"), null, verifier);
      assertEquals("Basic realm=\"R\"", authenticator.challenge());
      assertEquals(Optional.of("alice"), authenticator.authenticate(basic("alice:s3cret")).join());
      assertEquals(Optional.of("alice"), authenticator.authenticate(basic("alice:s3cret")).join(), "a remembered check");
      assertEquals(Optional.empty(), authenticator.authenticate(basic("alice:nope")).join());
      assertEquals(Optional.empty(), authenticator.authenticate(basic("alice")).join(), "no colon, no password");
      assertEquals(Optional.empty(), authenticator.authenticate("Basic !!!not-base64").join());
      assertEquals(Optional.empty(), authenticator.authenticate("Bearer whatever").join(), "no token configured");
      assertEquals(Optional.empty(), authenticator.authenticate(null).join());
    } finally {
      verifier.shutdownNow();
    }
  }

  @Test
  void withNothingConfiguredNoCredentialsAreRequired() {
    assertFalse(ClientAuthenticator.anonymous().required());
    assertFalse(new ClientAuthenticator("R", null, "", Runnable::run).required(), "an empty token is no token");
  }

  private static String basic(String credentials) {
    return "Basic " + java.util.Base64.getEncoder().encodeToString(credentials.getBytes(java.nio.charset.StandardCharsets.UTF_8));
  }
}
