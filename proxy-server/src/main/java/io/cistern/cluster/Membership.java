package io.cistern.cluster;

import java.net.InetAddress;
import java.net.NetworkInterface;
import java.net.SocketException;
import java.net.UnknownHostException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.Comparator;
import java.util.Enumeration;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executor;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Function;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Which members there are and which of them are live, and so who owns a key: the live members in
 * rendezvous order ({@link Rendezvous}), this member always among them.
 *
 * <p>Liveness: every member is probed each {@code probeInterval} ({@code GET /v2/} with the
 * member header); one that fails a probe, or a request ({@link #unreachable}), is down until a
 * probe answers again. Members start live: before the first probe has answered, every member
 * computes the same owners, and a dead one costs its first asker one failed connection.
 * Transitions are logged once each way.
 *
 * <p>Threads: the member list is swapped whole (a volatile list, replaced by the refresh, which
 * runs one at a time on the resolving executor), and the down set is a concurrent set, so that
 * an owner lookup reads both without a lock. Probes and refreshes are scheduled on the shared
 * timer, which only starts them: the probes are asynchronous, and the DNS lookups, which block,
 * run on the resolving executor.
 */
public final class Membership implements AutoCloseable {

  private static final Logger log = LoggerFactory.getLogger(Membership.class);

  private final Member self;
  private final MemberResolver resolver;
  private final Function<Member, CompletableFuture<Void>> probe;
  private final Set<Member> down = ConcurrentHashMap.newKeySet();
  private final AtomicBoolean resolveFailing = new AtomicBoolean();
  private final List<ScheduledFuture<?>> schedules = new ArrayList<>();
  private volatile List<Member> others = List.of();

  /** @param probe asks a member whether it is live ({@link MemberClient#probe}); fails when it is not */
  public Membership(Member self, MemberResolver resolver, Function<Member, CompletableFuture<Void>> probe) {
    this.self = self;
    this.resolver = resolver;
    this.probe = probe;
  }

  /**
   * Resolves the members once now (a failure is logged and retried at the next refresh), then
   * probes them every {@code probeInterval} and resolves again every {@code refreshInterval}.
   */
  public void start(ScheduledExecutorService timer, Executor resolving, Duration probeInterval, Duration refreshInterval) {
    refresh();
    log.info("cluster member {}: {} other members known", self, others.size());
    // The first probe after an interval: members start live, and those starting at the same time
    // as this one would fail a probe now only to be found again at the next.
    schedules.add(timer.scheduleWithFixedDelay(this::probeNow, probeInterval.toMillis(), probeInterval.toMillis(),
        TimeUnit.MILLISECONDS));
    schedules.add(timer.scheduleWithFixedDelay(() -> {
      try {
        resolving.execute(this::refresh);
      } catch (RejectedExecutionException stopping) {
        // Cistern is stopping.
      }
    }, refreshInterval.toMillis(), refreshInterval.toMillis(), TimeUnit.MILLISECONDS));
  }

  public Member self() {
    return self;
  }

  /** The live members, this one included, the owner of {@code key} first. */
  public List<Member> order(String key) {
    return Rendezvous.order(live(), key);
  }

  /**
   * The live members ranked above this one for {@code key}, the owner first; empty when this
   * member owns it. A member asks only these, never one ranked below it, so that requests between
   * members can never go round in a circle: each goes to a higher score for the key.
   */
  public List<Member> ahead(String key) {
    List<Member> order = order(key);
    return List.copyOf(order.subList(0, order.indexOf(self)));
  }

  /** The live members now, this one included. */
  public List<Member> live() {
    List<Member> live = new ArrayList<>(others.size() + 1);
    live.add(self);
    for (Member member : others) {
      if (!down.contains(member)) {
        live.add(member);
      }
    }
    return live;
  }

  /** Every member known, this one included, live or not. */
  public List<Member> known() {
    List<Member> known = new ArrayList<>(others);
    known.add(0, self);
    return Collections.unmodifiableList(known);
  }

  /** A request to {@code member} got no answer: it is down until a probe finds it live again. */
  public void unreachable(Member member, Throwable why) {
    if (!member.equals(self) && down.add(member)) {
      log.warn("cluster member {} is down ({}); its keys go to the next members in order", member, why.getMessage());
    }
  }

  private void live(Member member) {
    if (down.remove(member)) {
      log.info("cluster member {} is live again", member);
    }
  }

  /**
   * Probes every member but this one now; each answer (or its absence) sets that member's state.
   * Completes once every probe has.
   */
  public CompletableFuture<Void> probeNow() {
    List<CompletableFuture<Void>> probes = new ArrayList<>();
    for (Member member : others) {
      probes.add(probe.apply(member).handle((ok, failure) -> {
        if (failure == null) {
          live(member);
        } else {
          unreachable(member, failure.getCause() != null ? failure.getCause() : failure);
        }
        return null;
      }));
    }
    return CompletableFuture.allOf(probes.toArray(CompletableFuture[]::new));
  }

  /** Resolves the member list again; on failure keeps the last one. */
  void refresh() {
    List<Member> resolved;
    try {
      resolved = resolver.resolve();
    } catch (UnknownHostException | RuntimeException e) {
      if (resolveFailing.compareAndSet(false, true)) {
        log.warn("cannot resolve the cluster's members ({}); keeping the {} known", e.toString(), others.size());
      }
      return;
    }
    if (resolveFailing.compareAndSet(true, false)) {
      log.info("the cluster's members resolve again");
    }
    List<Member> next = resolved.stream().filter(member -> !member.equals(self)).distinct()
        .sorted(Comparator.comparing(member -> member.url().toString())).toList();
    if (!next.equals(others)) {
      // A member that left is forgotten, liveness and all; one that joins starts live.
      down.retainAll(next);
      others = next;
    }
  }

  @Override
  public void close() {
    schedules.forEach(schedule -> schedule.cancel(false));
  }

  /**
   * This member's default URL: {@code scheme://<first address of the first interface that is up
   * and not loopback>:port}, an IPv4 address preferred. Falls back to the loopback address.
   */
  public static Member defaultSelf(String scheme, int port) {
    InetAddress chosen = null;
    try {
      Enumeration<NetworkInterface> interfaces = NetworkInterface.getNetworkInterfaces();
      while (interfaces != null && interfaces.hasMoreElements() && chosen == null) {
        NetworkInterface candidate = interfaces.nextElement();
        if (!candidate.isUp() || candidate.isLoopback()) {
          continue;
        }
        for (InetAddress address : Collections.list(candidate.getInetAddresses())) {
          if (address.isLinkLocalAddress() || address.isLoopbackAddress()) {
            continue;
          }
          if (chosen == null || address instanceof java.net.Inet4Address && !(chosen instanceof java.net.Inet4Address)) {
            chosen = address;
          }
        }
      }
    } catch (SocketException e) {
      log.warn("cannot list the network interfaces ({}); set cluster.self", e.toString());
    }
    return MemberResolver.at(chosen != null ? chosen : InetAddress.getLoopbackAddress(), scheme, port);
  }
}
