package io.cistern.cluster;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.UnknownHostException;
import java.util.ArrayList;
import java.util.List;

/** Where the list of members comes from: the configuration, or a DNS name resolved again and again. */
@FunctionalInterface
public interface MemberResolver {

  /** The members now, this one possibly among them; may block (a DNS lookup). */
  List<Member> resolve() throws UnknownHostException;

  /** The configured list, or the addresses of {@code settings.service()} on {@code servicePort}. */
  static MemberResolver of(ClusterSettings settings, String scheme) {
    if (!settings.members().isEmpty()) {
      List<Member> members = settings.members();
      return () -> members;
    }
    return () -> addressesOf(settings.service(), scheme, settings.servicePort());
  }

  /**
   * Every A and AAAA record of {@code name} as a member. The JDK caches answers (30 s by default,
   * {@code networkaddress.cache.ttl}), so a change shows within that plus the refresh interval.
   */
  static List<Member> addressesOf(String name, String scheme, int port) throws UnknownHostException {
    List<Member> members = new ArrayList<>();
    for (InetAddress address : InetAddress.getAllByName(name)) {
      members.add(at(address, scheme, port));
    }
    return members;
  }

  /** The member at {@code address}: a literal IP, an IPv6 one bracketed and without its scope. */
  static Member at(InetAddress address, String scheme, int port) {
    String host = address.getHostAddress();
    if (address instanceof Inet6Address) {
      int scope = host.indexOf('%');
      host = scope < 0 ? host : host.substring(0, scope);
    }
    try {
      return Member.of(new URI(scheme, null, host, port, null, null, null));
    } catch (URISyntaxException e) {
      throw new IllegalArgumentException("no member URL for " + address, e);
    }
  }
}
