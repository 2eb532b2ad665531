package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.InetSocketAddress;
import java.net.Proxy;
import java.net.URI;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class EnvironmentProxySelectorTest {

  private static final Proxy CORPORATE = new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved("proxy.corp", 3128));

  private static List<Proxy> select(Map<String, String> environment, String uri) {
    return EnvironmentProxySelector.from(environment).select(URI.create(uri));
  }

  @Test
  void withNoProxyVariablesEverythingGoesDirect() {
    assertEquals(List.of(Proxy.NO_PROXY), select(Map.of(), "https://ghcr.io/v2/"));
  }

  @Test
  void httpsUpstreamsUseHttpsProxyAndHttpOnesHttpProxy() {
    Map<String, String> environment = Map.of("HTTPS_PROXY", "http://proxy.corp:3128", "HTTP_PROXY", "other.corp:8080");
    assertEquals(List.of(CORPORATE), select(environment, "https://ghcr.io/v2/"));
    assertEquals(List.of(new Proxy(Proxy.Type.HTTP, InetSocketAddress.createUnresolved("other.corp", 8080))),
        select(environment, "http://registry.corp/v2/"));
    assertEquals(List.of(Proxy.NO_PROXY), select(Map.of("HTTPS_PROXY", "proxy.corp:3128"), "http://registry.corp/v2/"));
  }

  @Test
  void lowerCaseNamesCountWhenUpperCaseOnesAreUnset() {
    assertEquals(List.of(CORPORATE), select(Map.of("https_proxy", "proxy.corp:3128"), "https://quay.io/v2/"));
    assertEquals(List.of(CORPORATE), select(Map.of("HTTPS_PROXY", "proxy.corp:3128", "https_proxy", "x.corp:1"), "https://quay.io/v2/"));
  }

  @Test
  void noProxyEntriesMatchDomainsSubdomainsAddressesBlocksAndPorts() {
    Map<String, String> environment = Map.of("HTTPS_PROXY", "proxy.corp:3128",
        "NO_PROXY", "corp.example, .internal,10.0.0.0/8, 192.168.1.7 ,registry.io:5000,*.svc");
    List<Proxy> direct = List.of(Proxy.NO_PROXY);
    assertEquals(direct, select(environment, "https://corp.example/v2/"), "the domain itself");
    assertEquals(direct, select(environment, "https://registry.corp.example/v2/"), "and its subdomains");
    assertEquals(List.of(CORPORATE), select(environment, "https://notcorp.example/v2/"), "but not a longer name");
    assertEquals(direct, select(environment, "https://a.internal/v2/"), "a leading dot: subdomains");
    assertEquals(List.of(CORPORATE), select(environment, "https://internal/v2/"), "a leading dot: not the domain itself");
    assertEquals(direct, select(environment, "https://10.1.2.3/v2/"), "inside the CIDR block");
    assertEquals(List.of(CORPORATE), select(environment, "https://11.1.2.3/v2/"), "outside it");
    assertEquals(direct, select(environment, "https://192.168.1.7/v2/"), "an exact address");
    assertEquals(direct, select(environment, "https://registry.io:5000/v2/"), "host and port");
    assertEquals(List.of(CORPORATE), select(environment, "https://registry.io/v2/"), "another port is proxied");
    assertEquals(direct, select(environment, "https://a.b.svc/v2/"), "*.svc is .svc");
  }

  @Test
  void aStarMeansNothingIsProxied() {
    assertEquals(List.of(Proxy.NO_PROXY), select(Map.of("HTTPS_PROXY", "proxy.corp:3128", "no_proxy", "*"), "https://ghcr.io/v2/"));
  }

  @Test
  void loopbackIsNeverProxied() {
    Map<String, String> environment = Map.of("HTTPS_PROXY", "proxy.corp:3128", "HTTP_PROXY", "proxy.corp:3128");
    for (String uri : List.of("http://127.0.0.1:5000/v2/", "https://localhost/v2/", "http://[::1]:5000/v2/", "http://127.9.9.9/v2/")) {
      assertEquals(List.of(Proxy.NO_PROXY), select(environment, uri), uri);
    }
  }

  @Test
  void proxiesCisternCannotUseAreRefusedAtStartUp() {
    assertThrows(IllegalArgumentException.class, () -> EnvironmentProxySelector.from(Map.of("HTTPS_PROXY", "socks5://proxy.corp:1080")));
    assertThrows(IllegalArgumentException.class, () -> EnvironmentProxySelector.from(Map.of("HTTPS_PROXY", "https://proxy.corp:443")));
    IllegalArgumentException credentials = assertThrows(IllegalArgumentException.class,
        () -> EnvironmentProxySelector.from(Map.of("HTTP_PROXY", "http://user:secret@proxy.corp:3128")));
    assertEquals(-1, credentials.getMessage().indexOf("secret"), "the message never repeats the password");
  }
}
