package io.cistern.upstream;

import java.security.AlgorithmConstraints;
import java.security.KeyManagementException;
import java.security.SecureRandom;
import java.util.function.Supplier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLContextSpi;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.SSLParameters;
import javax.net.ssl.SSLServerSocketFactory;
import javax.net.ssl.SSLSessionContext;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;

/**
 * A TLS context made the first time TLS is used, for an HTTP client that may never need it (a
 * plain-HTTP upstream meets TLS only if it redirects to HTTPS). Building a context, even the
 * JDK's default, loads and initialises the JDK's TLS stack, about 300 classes and a tenth of a
 * second; the JDK's HTTP client builds its default parameters when it is built, so a plain
 * context would pay that on an upstream's first request. Here the client is handed parameters
 * whose every value is read from the real context's defaults when a TLS connection first asks.
 */
final class DeferredSslContext extends SSLContext {

  DeferredSslContext(Supplier<SSLContext> factory) {
    // No provider: the real context's is known only once it is made, and the HTTP client never asks.
    super(new Spi(new Once<>(factory)), null, "TLS");
  }

  /**
   * A value made at its first use, at most once in practice: a race makes it twice, and either is
   * the same (the same trust, the same defaults), so no lock is held while it is made.
   */
  private static final class Once<T> {

    private final Supplier<T> factory;
    private volatile T value;

    Once(Supplier<T> factory) {
      this.factory = factory;
    }

    T get() {
      T made = value;
      if (made == null) {
        made = factory.get();
        value = made;
      }
      return made;
    }
  }

  private static final class Spi extends SSLContextSpi {

    private final Once<SSLContext> real;

    Spi(Once<SSLContext> real) {
      this.real = real;
    }

    @Override
    protected void engineInit(KeyManager[] keys, TrustManager[] trust, SecureRandom random) throws KeyManagementException {
      throw new KeyManagementException("a deferred TLS context is made by its factory");
    }

    @Override
    protected SSLSocketFactory engineGetSocketFactory() {
      return real.get().getSocketFactory();
    }

    @Override
    protected SSLServerSocketFactory engineGetServerSocketFactory() {
      return real.get().getServerSocketFactory();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine() {
      return real.get().createSSLEngine();
    }

    @Override
    protected SSLEngine engineCreateSSLEngine(String host, int port) {
      return real.get().createSSLEngine(host, port);
    }

    @Override
    protected SSLSessionContext engineGetServerSessionContext() {
      return real.get().getServerSessionContext();
    }

    @Override
    protected SSLSessionContext engineGetClientSessionContext() {
      return real.get().getClientSessionContext();
    }

    @Override
    protected SSLParameters engineGetDefaultSSLParameters() {
      return new DeferredParameters(new Once<>(() -> real.get().getDefaultSSLParameters()));
    }

    @Override
    protected SSLParameters engineGetSupportedSSLParameters() {
      return real.get().getSupportedSSLParameters();
    }
  }

  /**
   * The real context's default parameters, read at their first use. The HTTP client keeps the
   * object it is given and copies it (through these getters) for each TLS connection; it never
   * sets anything on it, so no setter needs to reach the real parameters. Three getters are
   * final and keep a new object's values: no server names and no SNI matchers (a context's
   * defaults have none either; the client names the server per connection) and the cipher-suite
   * order flag, which only a server's side heeds.
   */
  private static final class DeferredParameters extends SSLParameters {

    private final Once<SSLParameters> real;

    DeferredParameters(Once<SSLParameters> real) {
      this.real = real;
    }

    private SSLParameters real() {
      return real.get();
    }

    @Override
    public String[] getCipherSuites() {
      return real().getCipherSuites();
    }

    @Override
    public String[] getProtocols() {
      return real().getProtocols();
    }

    @Override
    public boolean getWantClientAuth() {
      return real().getWantClientAuth();
    }

    @Override
    public boolean getNeedClientAuth() {
      return real().getNeedClientAuth();
    }

    @Override
    public AlgorithmConstraints getAlgorithmConstraints() {
      return real().getAlgorithmConstraints();
    }

    @Override
    public String getEndpointIdentificationAlgorithm() {
      return real().getEndpointIdentificationAlgorithm();
    }

    @Override
    public boolean getEnableRetransmissions() {
      return real().getEnableRetransmissions();
    }

    @Override
    public int getMaximumPacketSize() {
      return real().getMaximumPacketSize();
    }

    @Override
    public String[] getApplicationProtocols() {
      return real().getApplicationProtocols();
    }
  }
}
