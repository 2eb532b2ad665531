package io.cistern.testing;

import java.io.IOException;
import java.io.StringWriter;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.interfaces.ECPrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
import java.util.concurrent.atomic.AtomicLong;
import org.bouncycastle.asn1.ASN1Encodable;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.ExtendedKeyUsage;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.asn1.x509.KeyPurposeId;
import org.bouncycastle.asn1.x509.KeyUsage;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.operator.OperatorCreationException;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;
import org.bouncycastle.util.io.pem.PemObject;

/**
 * Test X.509 material made on the spot with RSA keys: a self-signed CA, and server certificates it
 * issues for 127.0.0.1 and localhost, written as PEM files the way Distribution, skopeo and
 * Cistern read them.
 */
public final class TestCertificates {

  private static final AtomicLong SERIALS = new AtomicLong(System.nanoTime());

  /**
   * How the server's private key is written: an RSA key as PKCS#8 ({@code BEGIN PRIVATE KEY}) or
   * PKCS#1 ({@code BEGIN RSA PRIVATE KEY}), or an EC P-256 key as SEC 1 ({@code BEGIN EC PRIVATE
   * KEY}, cert-manager's form for ECDSA).
   */
  public enum KeyFormat { PKCS8, PKCS1, SEC1_EC }

  /** A certificate with its key pair. */
  public record Issued(X509Certificate certificate, KeyPair keys) {

    public Path writeCertificate(Path file) throws IOException {
      return Files.writeString(file, pem(certificate));
    }

    /** The private key as PKCS#8 PEM, which Go's TLS reads. */
    public Path writeKey(Path file) throws IOException {
      return writeKey(file, KeyFormat.PKCS8);
    }

    public Path writeKey(Path file, KeyFormat format) throws IOException {
      return Files.writeString(file, switch (format) {
        case PKCS8 -> pem(new JcaPKCS8Generator(keys.getPrivate(), null));
        case PKCS1 -> pem(keys.getPrivate());
        case SEC1_EC -> sec1Pem((ECPrivateKey) keys.getPrivate());
      });
    }
  }

  private final Path caCertificate;
  private final Path certificate;
  private final Path key;

  private TestCertificates(Path caCertificate, Path certificate, Path key) {
    this.caCertificate = caCertificate;
    this.certificate = certificate;
    this.key = key;
  }

  /** A CA and a server certificate it signed, as {@code ca.crt}, {@code server.crt}, {@code server.key}. */
  public static TestCertificates create(Path directory, KeyFormat keyFormat) throws IOException {
    Files.createDirectories(directory);
    Issued ca = selfSignedCa("Cistern Test CA");
    Issued server = serverFor127001(ca, keyFormat == KeyFormat.SEC1_EC ? ecKeys() : rsaKeys());
    return new TestCertificates(
        ca.writeCertificate(directory.resolve("ca.crt")),
        server.writeCertificate(directory.resolve("server.crt")),
        server.writeKey(directory.resolve("server.key"), keyFormat));
  }

  /** A self-signed CA certificate (also fit to sign JWTs whose {@code x5c} carries it). */
  public static Issued selfSignedCa(String commonName) {
    KeyPair keys = rsaKeys();
    X500Name name = new X500Name("CN=" + commonName);
    return build(name, keys, name, keys, builder -> builder
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign | KeyUsage.digitalSignature)));
  }

  /** A server certificate for {@code 127.0.0.1} and {@code localhost}, issued by {@code ca}. */
  public static Issued serverFor127001(Issued ca) {
    return serverFor127001(ca, rsaKeys());
  }

  private static Issued serverFor127001(Issued ca, KeyPair keys) {
    X500Name issuer = X500Name.getInstance(ca.certificate().getSubjectX500Principal().getEncoded());
    return build(new X500Name("CN=127.0.0.1"), keys, issuer, ca.keys(), builder -> builder
        .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
        .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
        .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
        .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
            new GeneralName(GeneralName.iPAddress, "127.0.0.1"),
            new GeneralName(GeneralName.dNSName, "localhost")})));
  }

  public Path caCertificate() {
    return caCertificate;
  }

  public Path certificate() {
    return certificate;
  }

  public Path key() {
    return key;
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

  private static KeyPair ecKeys() {
    try {
      KeyPairGenerator generator = KeyPairGenerator.getInstance("EC");
      generator.initialize(256);
      return generator.generateKeyPair();
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("EC P-256 is part of every Java runtime", e);
    }
  }

  /**
   * An EC key as SEC 1 PEM naming its curve, as Go's {@code x509.MarshalECPrivateKey} (cert-manager)
   * and openssl write it. (Bouncy Castle's writer copies the JDK's inner encoding, which leaves the
   * curve to the PKCS#8 wrapper.)
   */
  public static String sec1Pem(ECPrivateKey key) throws IOException {
    ASN1Encodable curve = PrivateKeyInfo.getInstance(key.getEncoded()).getPrivateKeyAlgorithm().getParameters();
    byte[] der = new org.bouncycastle.asn1.sec.ECPrivateKey(key.getParams().getOrder().bitLength(), key.getS(), curve)
        .getEncoded();
    return pem(new PemObject("EC PRIVATE KEY", der));
  }

  private static String pem(Object object) throws IOException {
    StringWriter text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      writer.writeObject(object);
    }
    return text.toString();
  }
}
