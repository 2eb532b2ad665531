package io.cistern.cluster;

import java.time.Duration;
import java.util.List;

/**
 * Who the other members are and how to talk to them; checked by {@code Settings}.
 *
 * @param members the members named in the configuration (empty with {@code service})
 * @param service a DNS name whose A/AAAA records are the members, or null
 * @param servicePort the registry port of the members found through {@code service}
 * @param refreshInterval how often {@code service} is resolved again
 * @param self this member as the others name it; null until the start picks the default
 * @param token what members present to each other in the {@code Cistern-Member} header
 * @param probeInterval how often each member is asked whether it is live
 */
public record ClusterSettings(
    List<Member> members,
    String service,
    int servicePort,
    Duration refreshInterval,
    Member self,
    String token,
    Duration probeInterval) {

  public ClusterSettings {
    members = List.copyOf(members);
  }

  /** These settings with {@code self} named. */
  public ClusterSettings withSelf(Member member) {
    return new ClusterSettings(members, service, servicePort, refreshInterval, member, token, probeInterval);
  }

  /** Never prints the token. */
  @Override
  public String toString() {
    return "ClusterSettings[members=" + members + ", service=" + service + ":" + servicePort + ", self=" + self + "]";
  }
}
