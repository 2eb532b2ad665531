package io.cistern.testing;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Base64;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

/**
 * Test X.509 material made on the spot with RSA keys: a self-signed CA, and certificates it
 * issues for 127.0.0.1, written as PEM files the way Distribution and Cistern read them.
 */
public final class TestCertificates {

  private static final AtomicLong SERIALS = new AtomicLong(System.nanoTime());

  /** A certificate with its key pair. */
  public record Issued(X509Certificate certificate, KeyPair keys) {

    public Path writeCertificate(Path file) throws IOException {
      try {
        return Files.writeString(file, pem("CERTIFICATE", certificate.getEncoded()));
      } catch (GeneralSecurityException e) {
        throw new IOException(e);
      }
    }

    /** The private key as PKCS#8 PEM ({@code BEGIN PRIVATE KEY}), which Go's TLS reads. */
    public Path writeKey(Path file) throws IOException {
      return Files.writeString(file, pem("PRIVATE KEY", keys.getPrivate().getEncoded()));
    }
  }

  private TestCertificates() {}

  /** A self-signed CA certificate (also fit to sign JWTs whose {@code x5c} carries it). */
  public static Issued selfSignedCa(String commonName) {
    KeyPair keys = rsaKeys();
    X500Name name = new X500Name("CN=" + commonName);
    return build(name, keys, name, keys, builder -> builder.addExtension(Extension.basicConstraints, true, new BasicConstraints(true)));
  }

  /** A server certificate for {@code 127.0.0.1}, issued by {@code ca}. */
  public static Issued serverFor127001(Issued ca) {
    KeyPair keys = rsaKeys();
    X500Name issuer = X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded());
    return build(new X500Name("CN=127.0.0.1"), keys, issuer, ca.keys(), builder -> builder.addExtension(
        Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName(GeneralName.iPAddress, "127.0.0.1"))));
  }

  private interface Extensions {
    void add(X509v3CertificateBuilder builder) throws IOException;
  }

  private static Issued build(X500Name subject, KeyPair subjectKeys, X500Name issuer, KeyPair issuerKeys, Extensions extensions) {
    Instant now = Instant.now();
    try {
      X509v3CertificateBuilder builder = new JcaX509v3CertificateBuilder(issuer, BigInteger.valueOf(SERIALS.incrementAndGet()),
          Date.from(now.minus(Duration.ofHours(1))), Date.from(now.plus(Duration.ofDays(1))), subject, subjectKeys.getPublic());
      extensions.add(builder);
      X509Certificate certificate = new JcaX509CertificateConverter()
          .getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withRSA").build(issuerKeys.getPrivate())));
      return new Issued(certificate, subjectKeys);
    } catch (IOException | GeneralSecurityException | OperatorCreationException e) {
      throw new IllegalStateException("cannot make a test certificate", e);
    }
  }

  private static KeyPair rsaKeys() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("RSA is part of every Java runtime", e);
    }
  }

  private static String pem(String type, byte[] der) {
    String body = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII)).encodeToString(der);
    return "-----BEGIN " + type + "-----\n" + body + "\n-----END " + type + "-----\n";
  }
}
