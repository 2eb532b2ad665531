package io.cistern.testing;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The config file a test gives a Cistern it starts as a process: both listeners on 127.0.0.1 with
 * ports the system picks, one upstream named {@code upstream.test}.
 */
public final class LoopbackConfig {

  private LoopbackConfig() {}

  public static Path write(Path file, Path cacheDirectory, String upstreamUrl) throws IOException {
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
          - host: upstream.test
            url: %s
        """.formatted(cacheDirectory, upstreamUrl));
  }
}
