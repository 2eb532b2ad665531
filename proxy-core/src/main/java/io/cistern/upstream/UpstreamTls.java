package io.cistern.upstream;

import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collection;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
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
   * blob store's signed URL): the system trust store, read the first time a server's
   * certificate is checked rather than when the upstream's HTTP client is built. The JDK's default
   * context reads and parses it up front, about a tenth of a second of a start's first request.
   * Chains and host names are checked by the JDK's own trust manager, as for any upstream.
   */
  public static SSLContext trustingTheSystemOnFirstUse() {
    try {
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(null, new TrustManager[] {new SystemTrustOnFirstUse()}, null);
      return context;
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK offers no TLS context", e);
    }
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

  /** The system's trust manager, made the first time it is asked anything. */
  private static final class SystemTrustOnFirstUse extends X509ExtendedTrustManager {

    // Made at most once in practice; a race makes it twice, and either is the same trust.
    private volatile X509ExtendedTrustManager system;

    private X509ExtendedTrustManager system() throws CertificateException {
      X509ExtendedTrustManager made = system;
      if (made == null) {
        try {
          if (!(systemTrust() instanceof X509ExtendedTrustManager extended)) {
            throw new CertificateException("the JDK's trust manager does not check host names");
          }
          made = extended;
        } catch (GeneralSecurityException e) {
          throw new CertificateException("cannot read the system trust store: " + e.getMessage(), e);
        }
        system = made;
      }
      return made;
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      system().checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      system().checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      system().checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine) throws CertificateException {
      system().checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket) throws CertificateException {
      system().checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
      system().checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      try {
        return system().getAcceptedIssuers();
      } catch (CertificateException e) {
        return new X509Certificate[0];
      }
    }
  }
}
