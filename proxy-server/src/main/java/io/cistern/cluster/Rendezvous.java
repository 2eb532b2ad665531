package io.cistern.cluster;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.List;

/**
 * Rendezvous (highest random weight) hashing: each member scores each key, and the key's owner is
 * the member that scores highest; the rest, by descending score, are who takes over when the
 * ones before are down. Removing a member moves only the keys it owned, and every member that
 * knows the same live members computes the same order, with no coordination.
 *
 * <p>The score is a 64-bit FNV-1a hash of the member's URL and the key, finished with
 * SplitMix64's mixer for avalanche: fixed here, so that every member of a cluster agrees on it.
 */
public final class Rendezvous {

  private static final long FNV_OFFSET = 0xcbf29ce484222325L;
  private static final long FNV_PRIME = 0x100000001b3L;
  private static final byte[] SEPARATOR = {0};

  private Rendezvous() {}

  /** The score of {@code member} for {@code key}. */
  public static long score(Member member, String key) {
    long hash = FNV_OFFSET;
    hash = fnv(hash, member.url().toString().getBytes(StandardCharsets.UTF_8));
    // A separator no URL holds, so that (a, bc) and (ab, c) never hash alike.
    hash = fnv(hash, SEPARATOR);
    hash = fnv(hash, key.getBytes(StandardCharsets.UTF_8));
    return mix(hash);
  }

  /** {@code members} in descending score for {@code key}: the owner first. */
  public static List<Member> order(Collection<Member> members, String key) {
    record Scored(Member member, long score) {}
    List<Scored> scored = new ArrayList<>(members.size());
    for (Member member : members) {
      scored.add(new Scored(member, score(member, key)));
    }
    // Unsigned, so that every bit weighs alike; ties (never seen) broken by URL for determinism.
    scored.sort(Comparator.<Scored>comparingLong(s -> s.score() ^ Long.MIN_VALUE).reversed()
        .thenComparing(s -> s.member().url().toString()));
    List<Member> order = new ArrayList<>(scored.size());
    scored.forEach(s -> order.add(s.member()));
    return order;
  }

  private static long fnv(long hash, byte[] bytes) {
    for (byte b : bytes) {
      hash ^= b & 0xff;
      hash *= FNV_PRIME;
    }
    return hash;
  }

  private static long mix(long z) {
    z = (z ^ (z >>> 30)) * 0xbf58476d1ce4e5b9L;
    z = (z ^ (z >>> 27)) * 0x94d049bb133111ebL;
    return z ^ (z >>> 31);
  }
}
