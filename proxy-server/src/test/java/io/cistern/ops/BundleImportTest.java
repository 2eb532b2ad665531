package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.testing.CisternCli;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Imports through the CLI, on a stopped cache with no reachable upstream, of bundles not written by this Cistern. */
class BundleImportTest {

  private static final String OFFLINE = """
      offline: true
      upstreams:
        - host: upstream.test
          url: http://127.0.0.1:9
      """;
  /** The manifest of the one image in {@code bundles/old-writer.tar}. */
  private static final String OLD_MANIFEST = "sha256:372df0b46992ad268209c2cc4035a541a32b6f5bbdc3e0b01c45a3aa0cb380a2";

  @TempDir
  Path temp;

  /**
   * {@code bundles/old-writer.tar} was written by the hand-written tar writer Cistern had before
   * Commons Compress (ustar headers with 7-digit octal fields and NULs, no padding after the two
   * zero records): bundles made by earlier versions import unchanged.
   */
  @Test
  void aBundleWrittenByTheOldTarWriterStillImports() throws Exception {
    Path bundle = temp.resolve("old-writer.tar");
    try (InputStream fixture = getClass().getResourceAsStream("/bundles/old-writer.tar")) {
      Files.copy(fixture, bundle);
    }
    Path cache = temp.resolve("cache");
    CisternCli cli = CisternCli.forCache(temp.resolve("cli.yml"), cache, 1, OFFLINE);

    CisternCli.Run imported = cli.run("import", bundle.toString()).orFail();

    assertTrue(imported.out().contains("upstream.test/team/old:1.0@" + OLD_MANIFEST), imported.out());
    assertTrue(imported.out().contains("import: 1 images, 3 blobs imported"), imported.out());
    String listing = cli.run("ls").orFail().out();
    assertTrue(listing.contains("upstream.test/team/old:1.0"), listing);
    // GNU tar, an independent reader, says what the bundle holds; the cache holds the same.
    Path extracted = Files.createDirectories(temp.resolve("extracted"));
    Process tar = new ProcessBuilder("tar", "-xf", bundle.toString(), "-C", extracted.toString()).redirectErrorStream(true).start();
    String output = new String(tar.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(tar.waitFor(1, TimeUnit.MINUTES));
    assertEquals(0, tar.exitValue(), output);
    List<Path> blobs;
    try (Stream<Path> files = Files.walk(extracted.resolve("blobs/sha256"))) {
      blobs = files.filter(Files::isRegularFile).toList();
    }
    assertEquals(3, blobs.size());
    for (Path blob : blobs) {
      String hex = blob.getFileName().toString();
      assertArrayEquals(Files.readAllBytes(blob), Files.readAllBytes(cache.resolve("blobs/sha256").resolve(hex.substring(0, 2))
          .resolve(hex)), hex);
    }
  }
}
