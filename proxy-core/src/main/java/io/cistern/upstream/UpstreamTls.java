package io.cistern.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509TrustManager;

/**
 * TLS trust for an upstream: the system trust store, plus the upstream's own CA certificates (a
 * private registry's internal CA) when it has some. The extra certificates are trusted for that
 * upstream's client only, and the JDK's own trust manager still checks chains and host names.
 */
public final class UpstreamTls {

  private UpstreamTls() {}

  /**
   * @param extraCertificates a PEM file of one or more CA certificates, or null for the system
   *     trust store alone
   * @throws IllegalArgumentException when the file cannot be read or holds no certificate
   */
  public static SSLContext trusting(Path extraCertificates) {
    try {
      if (extraCertificates == null) {
        return SSLContext.getDefault();
      }
      KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
      trusted.load(null, null);
      int count = 0;
      for (X509Certificate system : systemTrust().getAcceptedIssuers()) {
        trusted.setCertificateEntry("system-" + count++, system);
      }
      Collection<? extends Certificate> extra;
      try (InputStream pem = Files.newInputStream(extraCertificates)) {
        extra = CertificateFactory.getInstance("X.509").generateCertificates(pem);
      }
      if (extra.isEmpty()) {
        throw new IllegalArgumentException("the CA file " + extraCertificates + " holds no certificate");
      }
      for (Certificate certificate : extra) {
        trusted.setCertificateEntry("extra-" + count++, certificate);
      }
      TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      factory.init(trusted);
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, factory.getTrustManagers(), null);
      return context;
    } catch (IOException | GeneralSecurityException e) {
      throw new IllegalArgumentException("cannot use the CA file " + extraCertificates + ": " + e.getMessage(), e);
    }
  }

  /**
   * TLS for an upstream reached over plain HTTP, which needs it only if it redirects to HTTPS (a
   * blob store's signed URL): the system trust store, as {@link #trusting(Path) trusting(null)},
   * made at the first TLS connection rather than when the upstream's HTTP client is built
   * ({@link DeferredSslContext}: the JDK's TLS stack and trust store cost a start's first request
   * a tenth of a second or more). It is the JDK's default context, as an HTTPS upstream's is
   * (with the client certificate {@code javax.net.ssl.keyStore} names, if any). Chains and host
   * names are checked by the JDK's own trust manager, as for any upstream.
   */
  public static SSLContext trustingTheSystemOnFirstUse() {
    return new DeferredSslContext(() -> trusting(null));
  }

  private static X509TrustManager systemTrust() throws GeneralSecurityException {
    TrustManagerFactory factory = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
    factory.init((KeyStore) null);
    for (TrustManager manager : factory.getTrustManagers()) {
      if (manager instanceof X509TrustManager x509) {
        return x509;
      }
    }
    throw new IllegalStateException("the JDK offers no X.509 trust manager");
  }
}
