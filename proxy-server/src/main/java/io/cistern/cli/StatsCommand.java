package io.cistern.cli;

import static io.cistern.cli.ArgumentSpecs.flag;

import io.cistern.cache.RepositoryUsage;
import io.cistern.oci.Json;
import io.cistern.ops.DownloadView;
import io.cistern.ops.StatsView;
import io.cistern.ops.TrafficView;
import java.io.PrintStream;
import java.util.ArrayList;
import java.util.List;
import picocli.CommandLine.Model.OptionSpec;

/** {@code cistern stats}: the cache's size against its cap, its pins, evictions, hit ratio and top repositories. */
final class StatsCommand extends CacheCommand {

  private final OptionSpec json = flag("prints the numbers as JSON, as the admin API's /api/stats", "--json");

  StatsCommand(Session session) {
    super(session, "stats",
        "Shows size, hit ratio, pins and top repositories.",
        "The cache's size against its cap, entries, pins, evictions, the hit ratio and bytes saved upstream (while a"
            + " server runs), downloads under way, and the top repositories.");
    spec().addOption(json);
  }

  @Override
  Work work() {
    boolean asJson = json.getValue();
    return client -> {
      StatsView stats = client.stats();
      PrintStream out = session.out();
      if (asJson) {
        out.println(Json.prettyString(stats));
        return 0;
      }
      double usage = stats.maxBytes() == 0 ? 0 : (double) stats.storedBytes() / stats.maxBytes();
      out.println("cache       " + client.description());
      out.println("size        " + Formats.bytes(stats.storedBytes()) + " of " + Formats.bytes(stats.maxBytes()) + " ("
          + Formats.percent(usage) + "), eviction down to " + Formats.bytes(stats.lowWaterBytes()));
      out.println("entries     " + stats.entries() + " blobs and manifests"
          + (stats.reservedBytes() > 0 ? ", " + Formats.bytes(stats.reservedBytes()) + " reserved by downloads" : ""));
      out.println("pinned      " + stats.pinnedBlobs() + " (" + Formats.bytes(stats.pinnedBytes()) + ")");
      out.println("evicted     " + stats.evictedBlobs() + " (" + Formats.bytes(stats.evictedBytes()) + ") in "
          + stats.evictionPasses() + " passes since start");
      TrafficView traffic = stats.traffic();
      if (traffic == null) {
        out.println("hit ratio   n/a: no server is running (it counts hits while it serves)");
      } else {
        out.println("hit ratio   " + Formats.percent(traffic.hitRatio()) + " (" + traffic.hits() + " hits, "
            + traffic.misses() + " misses since the server started)");
        out.println("saved       " + Formats.bytes(traffic.bytesFromCache()) + " served from the cache, "
            + Formats.bytes(traffic.bytesFromUpstream()) + " fetched from upstreams while serving");
      }
      for (DownloadView download : stats.downloads()) {
        out.println("downloading " + Formats.shortDigest(download.digest()) + " " + Formats.bytes(download.writtenBytes())
            + (download.expectedBytes() >= 0 ? " of " + Formats.bytes(download.expectedBytes()) : ""));
      }
      if (!stats.topRepositories().isEmpty()) {
        out.println("top repositories:");
        List<String[]> rows = new ArrayList<>();
        for (RepositoryUsage repository : stats.topRepositories()) {
          rows.add(new String[] {"  " + repository.upstream() + "/" + repository.repository(),
              repository.blobs() + " blobs", Formats.bytes(repository.bytes())});
        }
        Formats.table(rows, 1).forEach(out::println);
      }
      return 0;
    };
  }
}
