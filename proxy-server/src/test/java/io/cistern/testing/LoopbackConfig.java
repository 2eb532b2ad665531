package io.cistern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

/**
 * The config file a test gives a Cistern it starts as a process: both listeners on 127.0.0.1 with
 * ports the system picks, one upstream named {@code upstream.test} or those given.
 */
public final class LoopbackConfig {

  private LoopbackConfig() {}

  public static Path write(Path file, Path cacheDirectory, String upstreamUrl) throws IOException {
    return write(file, cacheDirectory, List.of(new Upstream("upstream.test", upstreamUrl, "")));
  }

  /** One upstream entry: its host, its url, and any further keys as YAML lines ("" for none). */
  public record Upstream(String host, String url, String moreKeys) {}

  /** As {@link #write(Path, Path, String)}, with {@code upstreams} in that order. */
  public static Path write(Path file, Path cacheDirectory, List<Upstream> upstreams) throws IOException {
    StringBuilder entries = new StringBuilder();
    for (Upstream upstream : upstreams) {
      entries.append("  - host: ").append(upstream.host()).append("\n    url: ").append(upstream.url()).append('\n');
      upstream.moreKeys().lines().forEach(line -> entries.append("    ").append(line).append('\n'));
    }
    return Files.writeString(file, """
        server:
          address: 127.0.0.1
          port: 0
        admin:
          address: 127.0.0.1
          port: 0
        cache:
          directory: %s
        upstreams:
        """.formatted(cacheDirectory) + entries);
  }
}
