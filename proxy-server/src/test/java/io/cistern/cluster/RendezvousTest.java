package io.cistern.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.URI;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** Rendezvous hashing: every member computes the same owners, and a member leaving moves only its own keys. */
class RendezvousTest {

  private static final List<Member> MEMBERS = List.of(member("http://cistern-0.cistern:5000"),
      member("http://cistern-1.cistern:5000"), member("http://cistern-2.cistern:5000"));

  @Test
  void theOrderIsTheSameWhateverOrderTheMembersAreListedIn() {
    List<Member> reversed = new ArrayList<>(MEMBERS);
    Collections.reverse(reversed);
    for (int key = 0; key < 200; key++) {
      assertEquals(Rendezvous.order(MEMBERS, "sha256:" + key), Rendezvous.order(reversed, "sha256:" + key));
    }
  }

  @Test
  void theOwnerScoresHighestAndTheRestFollowInDescendingScore() {
    List<Member> order = Rendezvous.order(MEMBERS, "docker.io/library/alpine");
    for (int i = 1; i < order.size(); i++) {
      assertTrue(Long.compareUnsigned(Rendezvous.score(order.get(i - 1), "docker.io/library/alpine"),
          Rendezvous.score(order.get(i), "docker.io/library/alpine")) > 0);
    }
  }

  @Test
  void scoresAreFixedSoThatMembersOfDifferentBuildsAgree() {
    // The hash is part of the protocol: a change here would split a cluster mid-upgrade.
    assertEquals(-6139371875636821214L, Rendezvous.score(MEMBERS.get(0), "sha256:0"));
  }

  @Test
  void keysSpreadOverTheMembersAndALeavingMemberMovesOnlyItsOwn() {
    Map<Member, Integer> owned = new HashMap<>();
    List<Member> withoutLast = MEMBERS.subList(0, 2);
    for (int key = 0; key < 3000; key++) {
      String name = "sha256:" + Integer.toHexString(key * 7919);
      Member owner = Rendezvous.order(MEMBERS, name).get(0);
      owned.merge(owner, 1, Integer::sum);
      Member ownerWithout = Rendezvous.order(withoutLast, name).get(0);
      if (!owner.equals(MEMBERS.get(2))) {
        assertEquals(owner, ownerWithout, "a key whose owner stays keeps it");
      } else {
        assertEquals(Rendezvous.order(MEMBERS, name).get(1), ownerWithout, "the next in order takes over");
      }
    }
    for (Member member : MEMBERS) {
      assertTrue(owned.get(member) > 800 && owned.get(member) < 1200, member + " owns " + owned.get(member));
    }
  }

  @Test
  void membersAreNamedWithTheirPortAndNothingElse() {
    assertEquals(member("http://a:80"), member("HTTP://A/"));
    assertEquals(URI.create("https://a:443"), member("https://a").url());
    assertNotEquals(member("http://a:5000"), member("https://a:5000"));
    assertEquals(member("http://[0:0:0:0:0:0:0:1]:5000"), member("http://[::1]:5000"));
  }

  private static Member member(String url) {
    return Member.of(URI.create(url));
  }
}
