package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.admin.AdminGuard.Caller;
import java.net.InetAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import org.junit.jupiter.api.Test;

/**
 * The guard's decision for callers a test on loopback cannot be: another machine, a browser on
 * another origin, a DNS-rebinding page. The same decisions on a running listener are in
 * AdminSecurityTest.
 */
class AdminGuardTest {

  private static final String JSON = "application/json";
  private static final InetAddress LOOPBACK = InetAddress.getLoopbackAddress();
  private static final InetAddress REMOTE = address(10, 1, 2, 3);

  private final AdminGuard noToken = new AdminGuard(null);
  private final AdminGuard withToken = new AdminGuard("s3cret");

  @Test
  void withoutATokenAnotherMachineMayReadButNotOperate() {
    Caller remote = new Caller(REMOTE, "cistern.internal:9090", null, null, JSON);
    assertEquals(403, status(noToken.refusal("POST", AdminAccess.OPERATE, remote)));
    assertEquals(200, status(noToken.refusal("GET", AdminAccess.READ, remote)));
    assertEquals(200, status(noToken.refusal("GET", AdminAccess.OPEN, remote)));
    assertEquals(200, status(new AdminGuard("").refusal("GET", AdminAccess.READ, remote)), "an empty token is no token");
    assertEquals(403, status(new AdminGuard("").refusal("POST", AdminAccess.OPERATE, remote)));
  }

  @Test
  void withoutATokenThisMachineMayOperateUnderALoopbackHostOnly() {
    for (String host : new String[] {"127.0.0.1:9090", "127.0.0.1", "localhost:9090", "LOCALHOST", "[::1]:9090", "127.1.2.3:80"}) {
      assertEquals(200, status(noToken.refusal("POST", AdminAccess.OPERATE, new Caller(LOOPBACK, host, null, null, JSON))), host);
    }
    for (String host : new String[] {"rebind.example:9090", "127.0.0.1.rebind.example:9090", "10.1.2.3:9090", "[::2]:9090", ""}) {
      assertEquals(403, status(noToken.refusal("POST", AdminAccess.OPERATE, new Caller(LOOPBACK, host, null, null, JSON))),
          "a DNS-rebinding page reaches loopback under its own name: " + host);
    }
    assertEquals(403, status(noToken.refusal("POST", AdminAccess.OPERATE, new Caller(LOOPBACK, null, null, null, JSON))));
    assertEquals(403, status(noToken.refusal("POST", AdminAccess.OPERATE, new Caller(REMOTE, "127.0.0.1:9090", null, null, JSON))),
        "a loopback Host from another machine is still another machine");
  }

  @Test
  void withATokenEveryCallerNeedsItForAllButOpenRoutes() {
    for (InetAddress peer : new InetAddress[] {LOOPBACK, REMOTE}) {
      for (AdminAccess access : new AdminAccess[] {AdminAccess.READ, AdminAccess.OPERATE}) {
        String method = access == AdminAccess.READ ? "GET" : "POST";
        assertEquals(401, status(withToken.refusal(method, access, new Caller(peer, "127.0.0.1:9090", null, null, JSON))));
        assertEquals(401, status(withToken.refusal(method, access, new Caller(peer, "127.0.0.1:9090", null, "Bearer s3cre", JSON))));
        assertEquals(401, status(withToken.refusal(method, access, new Caller(peer, "127.0.0.1:9090", null, "Bearer s3cret2", JSON))));
        assertEquals(401, status(withToken.refusal(method, access, new Caller(peer, "127.0.0.1:9090", null, "Basic czNjcmV0", JSON))));
        assertEquals(200, status(withToken.refusal(method, access, new Caller(peer, "cistern.internal:9090", null, "Bearer s3cret", JSON))));
        assertEquals(200, status(withToken.refusal(method, access, new Caller(peer, "cistern.internal:9090", null, "bearer s3cret", JSON))));
      }
      assertEquals(200, status(withToken.refusal("GET", AdminAccess.OPEN, new Caller(peer, "cistern.internal:9090", null, null, null))));
    }
    Optional<AdminResponse> refused = withToken.refusal("POST", AdminAccess.OPERATE, new Caller(LOOPBACK, "localhost", null, null, JSON));
    assertTrue(refused.orElseThrow().headers().get("WWW-Authenticate").startsWith("Bearer realm="), "a Bearer challenge");
  }

  @Test
  void aForeignOriginIsRefusedEverywhereAndTheListenersOwnIsNot() {
    for (String origin : new String[] {"http://evil.example", "http://127.0.0.1:9091", "null", "file://", "http://localhost:9090"}) {
      Caller caller = new Caller(LOOPBACK, "127.0.0.1:9090", origin, "Bearer s3cret", JSON);
      assertEquals(403, status(noToken.refusal("GET", AdminAccess.OPEN, caller)), origin);
      assertEquals(403, status(withToken.refusal("POST", AdminAccess.OPERATE, caller)), origin);
    }
    assertEquals(200, status(noToken.refusal("POST", AdminAccess.OPERATE,
        new Caller(LOOPBACK, "127.0.0.1:9090", "http://127.0.0.1:9090", null, JSON))));
    assertEquals(200, status(withToken.refusal("GET", AdminAccess.READ,
        new Caller(REMOTE, "cistern.example", "https://cistern.example", "Bearer s3cret", null))), "behind a TLS proxy");
    assertTrue(AdminGuard.sameOrigin("http://[::1]:9090", "[::1]:9090"));
    assertFalse(AdminGuard.sameOrigin("http://[::1]:9090", "[::1]:9091"));
  }

  @Test
  void aPostMustBeJsonSoThatABrowserMustAskFirst() {
    for (String type : new String[] {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/jsonp"}) {
      assertEquals(415, status(noToken.refusal("POST", AdminAccess.OPERATE, new Caller(LOOPBACK, "127.0.0.1", null, null, type))), type);
    }
    assertEquals(415, status(noToken.refusal("POST", AdminAccess.OPERATE, new Caller(LOOPBACK, "127.0.0.1", null, null, null))));
    assertEquals(200, status(noToken.refusal("POST", AdminAccess.OPERATE,
        new Caller(LOOPBACK, "127.0.0.1", null, null, "Application/JSON; charset=utf-8"))));
  }

  @Test
  void hostsAreReadAsLiteralsNeverLookedUp() {
    assertTrue(AdminGuard.isLoopbackHost("127.0.0.1:5"));
    assertTrue(AdminGuard.isLoopbackHost("[0:0:0:0:0:0:0:1]:9090"));
    assertFalse(AdminGuard.isLoopbackHost("localhost.rebind.example"));
    assertFalse(AdminGuard.isLoopbackHost("999.0.0.1:9090"));
    assertFalse(AdminGuard.isLoopbackHost("[::ffff:10.0.0.1]"));
  }

  /** 200 when the guard lets the caller through, else the refusal's status. */
  private static int status(Optional<AdminResponse> refusal) {
    return refusal.map(AdminResponse::status).orElse(200);
  }

  private static InetAddress address(int a, int b, int c, int d) {
    try {
      return InetAddress.getByAddress(new byte[] {(byte) a, (byte) b, (byte) c, (byte) d});
    } catch (UnknownHostException e) {
      throw new AssertionError(e);
    }
  }
}
