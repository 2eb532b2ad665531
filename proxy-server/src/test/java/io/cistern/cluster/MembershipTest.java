package io.cistern.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** Who is live, and so who is asked: probes, failed requests, and the list resolved again. */
class MembershipTest {

  private static final Member A = Member.of(URI.create("http://10.0.0.1:5000"));
  private static final Member B = Member.of(URI.create("http://10.0.0.2:5000"));
  private static final Member C = Member.of(URI.create("http://10.0.0.3:5000"));

  private final Set<Member> answering = ConcurrentHashMap.newKeySet();
  private final AtomicReference<List<Member>> resolved = new AtomicReference<>(List.of(A, B, C));

  private Membership membership(Member self) {
    Membership membership = new Membership(self, () -> {
      List<Member> now = resolved.get();
      if (now == null) {
        throw new UnknownHostException("cistern-members");
      }
      return now;
    }, member -> answering.contains(member)
        ? CompletableFuture.completedFuture(null)
        : CompletableFuture.failedFuture(new IOException("connection refused")));
    membership.refresh();
    return membership;
  }

  @Test
  void aMemberAsksOnlyTheMembersRankedAboveItselfForAKey() {
    for (int key = 0; key < 50; key++) {
      String name = "sha256:" + key;
      List<Member> order = Rendezvous.order(List.of(A, B, C), name);
      for (Member self : List.of(A, B, C)) {
        assertEquals(order.subList(0, order.indexOf(self)), membership(self).ahead(name));
      }
    }
  }

  @Test
  void membersStartLiveAFailedRequestTakesOneDownAndAProbeBringsItBack() {
    Membership membership = membership(A);
    assertEquals(List.of(A, B, C), membership.live(), "before any probe, every member is live");

    membership.unreachable(B, new IOException("reset"));
    assertEquals(List.of(A, C), membership.live());
    for (int key = 0; key < 50; key++) {
      assertFalse(membership.ahead("sha256:" + key).contains(B), "a down member is hashed around");
    }

    answering.addAll(List.of(B, C));
    membership.probeNow().join();
    assertEquals(List.of(A, B, C), membership.live());

    answering.remove(C);
    membership.probeNow().join();
    assertEquals(List.of(A, B), membership.live());
    membership.unreachable(A, new IOException("never"));
    assertTrue(membership.live().contains(A), "this member is always live to itself");
  }

  @Test
  void aListThatCannotBeResolvedKeepsTheLastOneAndAMemberThatLeftIsForgotten() {
    Membership membership = membership(A);
    resolved.set(null);
    membership.refresh();
    assertEquals(List.of(A, B, C), membership.known());

    membership.unreachable(C, new IOException("gone"));
    resolved.set(new ArrayList<>(List.of(C, A)));
    membership.refresh();
    assertEquals(List.of(A, C), membership.known());
    assertEquals(List.of(A), membership.live(), "C is still down");
    resolved.set(List.of(A, B));
    membership.refresh();
    assertEquals(List.of(A, B), membership.live(), "B joined live, C left");
  }

  @Test
  void aServiceNameResolvesToOneMemberPerAddressOnTheServicePort() throws Exception {
    assertEquals(List.of(Member.of(URI.create("http://127.0.0.1:5000"))),
        MemberResolver.addressesOf("127.0.0.1", "http", 5000));
    assertEquals(Member.of(URI.create("https://[::1]:5443")),
        MemberResolver.at(InetAddress.getByName("::1"), "https", 5443));
  }
}
