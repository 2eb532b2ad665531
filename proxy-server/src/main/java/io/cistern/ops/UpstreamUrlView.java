package io.cistern.ops;

import io.cistern.upstream.Upstream;
import io.cistern.upstream.UpstreamUrls;
import java.net.URI;
import java.util.List;

/**
 * Which of an upstream's urls requests start at now ({@code upstreams[].urls}, failover).
 *
 * @param current the url requests start at: the first, or the one that answered after it failed
 * @param urls every url of the upstream, in the order they are tried
 */
public record UpstreamUrlView(String upstream, String current, List<String> urls) {

  static UpstreamUrlView of(Upstream upstream) {
    UpstreamUrls urls = upstream.client().urls();
    return new UpstreamUrlView(upstream.host(), urls.current().toString(), urls.all().stream().map(URI::toString).toList());
  }
}
