package io.cistern.http;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.TestCertificates;
import java.io.IOException;
import java.io.StringWriter;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.interfaces.ECPrivateKey;
import java.security.spec.ECGenParameterSpec;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/** Keys in the PEM forms openssl and cert-manager write (made here with Bouncy Castle), read by the JDK alone. */
class PemPrivateKeyTest {

  @Test
  void pkcs1RsaKeyBecomesTheSameKeyAsPkcs8() throws Exception {
    PrivateKey key = generate("RSA", null);
    String pkcs1 = pem(key);
    assertTrue(pkcs1.contains("BEGIN RSA PRIVATE KEY"), pkcs1);

    assertEquals(key, read("RSA", PemPrivateKey.asPkcs8(pkcs1)));
  }

  @ParameterizedTest
  @ValueSource(strings = {"secp256r1", "secp384r1"})
  void sec1EcKeyBecomesTheSameKeyOnItsCurveAsPkcs8(String curve) throws Exception {
    PrivateKey key = generate("EC", curve);
    String sec1 = TestCertificates.sec1Pem((ECPrivateKey) key);
    assertTrue(sec1.contains("BEGIN EC PRIVATE KEY"), sec1);

    assertSameEcKey(key, read("EC", PemPrivateKey.asPkcs8(sec1)));
  }

  @Test
  void ecParametersBlockBeforeTheKeyIsPassedOver() throws Exception {
    PrivateKey key = generate("EC", "secp256r1");
    String openssl = "-----BEGIN EC PARAMETERS-----\nBggqhkjOPQMBBw==\n-----END EC PARAMETERS-----\n"
        + TestCertificates.sec1Pem((ECPrivateKey) key);

    assertSameEcKey(key, read("EC", PemPrivateKey.asPkcs8(openssl)));
  }

  @Test
  void sec1KeyWithoutItsCurveIsRefusedWithItsReason() throws Exception {
    String bare = pem(generate("EC", "secp256r1"));

    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> PemPrivateKey.asPkcs8(bare));
    assertTrue(refused.getMessage().contains("does not name its curve"), refused.getMessage());
  }

  @Test
  void pkcs8KeyPassesUnchanged() throws Exception {
    PrivateKey key = generate("RSA", null);
    String pkcs8 = "-----BEGIN PRIVATE KEY-----\n" + Base64.getMimeEncoder().encodeToString(key.getEncoded())
        + "\n-----END PRIVATE KEY-----";

    assertEquals(pkcs8, PemPrivateKey.asPkcs8("# the server's key\n" + pkcs8 + "\n"));
  }

  @Test
  void encryptedLegacyKeyIsRefusedWithItsReason() {
    String encrypted = """
        -----BEGIN RSA PRIVATE KEY-----
        Proc-Type: 4,ENCRYPTED
        DEK-Info: AES-128-CBC,0123456789ABCDEF0123456789ABCDEF

        AAAA
        -----END RSA PRIVATE KEY-----
        """;

    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> PemPrivateKey.asPkcs8(encrypted));
    assertTrue(refused.getMessage().contains("encrypted"), refused.getMessage());
  }

  @Test
  void fileWithoutAKeyIsRefused() {
    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
        () -> PemPrivateKey.asPkcs8("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"));
    assertTrue(refused.getMessage().contains("no PEM private key"), refused.getMessage());
  }

  @Test
  void ecKeyThatIsNotDerIsRefusedNotThrownAsAnIndexError() {
    String truncated = "-----BEGIN EC PRIVATE KEY-----\nMHcCAQEE\n-----END EC PRIVATE KEY-----\n";

    IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> PemPrivateKey.asPkcs8(truncated));
    assertTrue(refused.getMessage().contains("DER"), refused.getMessage());
  }

  /** The secret and the curve: the encodings differ (SEC 1 inside PKCS#8 may also carry the public key). */
  private static void assertSameEcKey(PrivateKey expected, PrivateKey actual) {
    ECPrivateKey want = (ECPrivateKey) expected;
    ECPrivateKey got = (ECPrivateKey) actual;
    assertEquals(want.getS(), got.getS());
    assertEquals(want.getParams().getCurve(), got.getParams().getCurve());
    assertEquals(want.getParams().getGenerator(), got.getParams().getGenerator());
  }

  private static PrivateKey generate(String algorithm, String curve) throws GeneralSecurityException {
    KeyPairGenerator generator = KeyPairGenerator.getInstance(algorithm);
    if (curve != null) {
      generator.initialize(new ECGenParameterSpec(curve));
    } else {
      generator.initialize(2048);
    }
    return generator.generateKeyPair().getPrivate();
  }

  private static String pem(PrivateKey key) throws IOException {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      writer.writeObject(key);
    }
    return text.toString();
  }

  private static PrivateKey read(String algorithm, String pkcs8Pem) throws GeneralSecurityException {
    String body = pkcs8Pem.replace("-----BEGIN PRIVATE KEY-----", "").replace("-----END PRIVATE KEY-----", "");
    return KeyFactory.getInstance(algorithm).generatePrivate(new PKCS8EncodedKeySpec(Base64.getMimeDecoder().decode(body)));
  }
}
