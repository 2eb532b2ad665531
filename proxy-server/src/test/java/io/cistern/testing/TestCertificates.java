package io.cistern.testing;

import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.math.BigInteger;
import java.net.InetAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.Date;
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

/**
 * A throwaway certificate authority and a server certificate it signed for 127.0.0.1 and
 * localhost, written as PEM files: {@code ca.crt} (what clients trust), {@code server.crt} and
 * {@code server.key}.
 */
public final class TestCertificates {

  /** How the server's private key is written. */
  public enum KeyFormat { PKCS8, PKCS1 }

  private final Path caCertificate;
  private final Path certificate;
  private final Path key;

  private TestCertificates(Path caCertificate, Path certificate, Path key) {
    this.caCertificate = caCertificate;
    this.certificate = certificate;
    this.key = key;
  }

  public static TestCertificates create(Path directory, KeyFormat keyFormat) throws IOException {
    try {
      Files.createDirectories(directory);
      KeyPairGenerator generator = KeyPairGenerator.getInstance("RSA");
      generator.initialize(2048);
      KeyPair caKeys = generator.generateKeyPair();
      KeyPair serverKeys = generator.generateKeyPair();
      X500Name caName = new X500Name("CN=Cistern Test CA");
      Instant now = Instant.now();
      Date from = Date.from(now.minus(Duration.ofHours(1)));
      Date to = Date.from(now.plus(Duration.ofDays(2)));

      X509v3CertificateBuilder ca = new JcaX509v3CertificateBuilder(caName, BigInteger.ONE, from, to, caName, caKeys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(true))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.keyCertSign | KeyUsage.cRLSign));
      X509Certificate caCertificate = sign(ca, caKeys.getPrivate());

      X509v3CertificateBuilder server = new JcaX509v3CertificateBuilder(caName, BigInteger.TWO, from, to,
          new X500Name("CN=localhost"), serverKeys.getPublic())
          .addExtension(Extension.basicConstraints, true, new BasicConstraints(false))
          .addExtension(Extension.keyUsage, true, new KeyUsage(KeyUsage.digitalSignature | KeyUsage.keyEncipherment))
          .addExtension(Extension.extendedKeyUsage, false, new ExtendedKeyUsage(KeyPurposeId.id_kp_serverAuth))
          .addExtension(Extension.subjectAlternativeName, false, new GeneralNames(new GeneralName[] {
              new GeneralName(GeneralName.iPAddress, InetAddress.getLoopbackAddress().getHostAddress()),
              new GeneralName(GeneralName.dNSName, "localhost")}));
      X509Certificate serverCertificate = sign(server, caKeys.getPrivate());

      Path caFile = directory.resolve("ca.crt");
      Path certificateFile = directory.resolve("server.crt");
      Path keyFile = directory.resolve("server.key");
      Files.writeString(caFile, pem(caCertificate));
      Files.writeString(certificateFile, pem(serverCertificate));
      Files.writeString(keyFile, keyFormat == KeyFormat.PKCS8
          ? pem(new JcaPKCS8Generator(serverKeys.getPrivate(), null))
          : pem(serverKeys.getPrivate()));
      return new TestCertificates(caFile, certificateFile, keyFile);
    } catch (GeneralSecurityException | OperatorCreationException e) {
      throw new IOException("cannot make test certificates", e);
    }
  }

  private static X509Certificate sign(X509v3CertificateBuilder builder, PrivateKey issuerKey)
      throws OperatorCreationException, GeneralSecurityException {
    return new JcaX509CertificateConverter().getCertificate(builder.build(new JcaContentSignerBuilder("SHA256withRSA").build(issuerKey)));
  }

  private static String pem(Object object) throws IOException {
    Writer text = new StringWriter();
    try (JcaPEMWriter writer = new JcaPEMWriter(text)) {
      writer.writeObject(object);
    }
    return text.toString();
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
}
