package io.cistern.ops;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.oci.Digest;
import io.cistern.oci.Json;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.CisternCli;
import io.cistern.testing.TestImage;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.apache.commons.compress.archivers.tar.TarConstants;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * Imports through the CLI, on a stopped cache with no reachable upstream, of bundles not written
 * by this Cistern: one by its old tar writer, which imports; and a corpus of hostile and damaged
 * ones, generated here, each of which gives an operator's message naming what is wrong (no stack
 * trace, no hang), writes nothing outside the cache, and leaves nothing half-imported: whole
 * blobs with a row each, no temp file, no manifest, no tag.
 */
@Timeout(120)
class BundleImportTest {

  private static final String OFFLINE = """
      offline: true
      upstreams:
        - host: upstream.test
          url: http://127.0.0.1:9
      """;
  /** The manifest of the one image in {@code bundles/old-writer.tar}. */
  private static final String OLD_MANIFEST = "sha256:372df0b46992ad268209c2cc4035a541a32b6f5bbdc3e0b01c45a3aa0cb380a2";

  private static final TestImage IMAGE = TestImage.random(81, 1, 3000, "amd64");
  private static final TestImage.Blob CONFIG = IMAGE.blobs().get(0);
  private static final TestImage.Blob LAYER = IMAGE.blobs().get(1);
  /** Where an absolute name in a hostile bundle points; looked for after each import. */
  private static final String OUTSIDE = System.getProperty("java.io.tmpdir") + "/cistern-bundle-import-test-outside";
  private static final byte[] DATA = "what a hostile entry holds".getBytes(StandardCharsets.UTF_8);

  @TempDir
  Path temp;

  /**
   * {@code bundles/old-writer.tar} was written by the hand-written tar writer Cistern had before
   * Commons Compress (ustar headers with 7-digit octal fields and NULs, no padding after the two
   * zero records): bundles made by earlier versions import unchanged.
   */
  @Test
  void aBundleWrittenByTheOldTarWriterStillImports() throws Exception {
    Path bundle = oldWriterBundle();
    Path cache = temp.resolve("cache");
    CisternCli cli = CisternCli.forCache(temp.resolve("cli.yml"), cache, 1, OFFLINE);

    CisternCli.Run imported = cli.run("import", bundle.toString()).orFail();

    assertTrue(imported.out().contains("upstream.test/team/old:1.0@" + OLD_MANIFEST), imported.out());
    assertTrue(imported.out().contains("import: 1 images, 3 blobs imported"), imported.out());
    String listing = cli.run("ls").orFail().out();
    assertTrue(listing.contains("upstream.test/team/old:1.0"), listing);
    // GNU tar, an independent reader, says what the bundle holds; the cache holds the same.
    Path extracted = Files.createDirectories(temp.resolve("extracted"));
    TarBytes.gnuTar("-xf", bundle.toString(), "-C", extracted.toString());
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

  /** GNU tar writes PAX headers (atime, ctime) in its POSIX format, GNU headers in its own, and directory entries. */
  @ParameterizedTest
  @ValueSource(strings = {"posix", "gnu"})
  void aBundleUnpackedAndPackedAgainWithGnuTarImports(String format) throws Exception {
    Path unpacked = Files.createDirectories(temp.resolve("unpacked"));
    Path original = oldWriterBundle();
    TarBytes.gnuTar("-xf", original.toString(), "-C", unpacked.toString());
    Path repacked = temp.resolve("repacked.tar");
    TarBytes.gnuTar("--format=" + format, "-cf", repacked.toString(), "-C", unpacked.toString(), "oci-layout", Bundle.FILE, "index.json",
        "blobs");
    CisternCli cli = CisternCli.forCache(temp.resolve("cli.yml"), temp.resolve("cache"), 1, OFFLINE);

    CisternCli.Run imported = cli.run("import", repacked.toString()).orFail();

    assertTrue(imported.out().contains("import: 1 images, 3 blobs imported"), imported.out());
    assertTrue(cli.run("ls").orFail().out().contains("upstream.test/team/old:1.0"));
  }

  private Path oldWriterBundle() throws IOException {
    Path bundle = temp.resolve("old-writer.tar");
    try (InputStream fixture = getClass().getResourceAsStream("/bundles/old-writer.tar")) {
      Files.copy(fixture, bundle);
    }
    return bundle;
  }

  /** One hostile bundle: how it is made, what its refusal must say, the environment of the import. */
  record Hostile(String name, byte[] bundle, List<String> says, Map<String, String> environment) {
    @Override
    public String toString() {
      return name;
    }
  }

  private static Hostile hostile(String name, byte[] bundle, String... says) {
    return new Hostile(name, bundle, List.of(says), Map.of());
  }

  static Stream<Hostile> corpus() {
    int layer = offsetOfEntry(4);
    byte[] whole = bundle(List.of());
    byte[] damagedHeader = whole.clone();
    damagedHeader[layer + 10] ^= 1;
    byte[] changedLayer = LAYER.bytes().clone();
    changedLayer[100] ^= 1;
    List<byte[]> swapped = new ArrayList<>(entries());
    swapped.set(4, file(name(LAYER.digest()), changedLayer));
    return Stream.of(
        hostile("cut in a header", Arrays.copyOf(whole, layer + 100),
            "ends in the middle of a tar header"),
        hostile("cut in a blob", Arrays.copyOf(whole, layer + 512 + 1000),
            "ends in the middle of " + name(LAYER.digest()) + " (1000 of " + LAYER.bytes().length + " bytes)"),
        hostile("cut in an extended header", Arrays.copyOf(bundle(List.of(new TarBytes().extended(
                TarConstants.LF_PAX_EXTENDED_HEADER_LC, TarBytes.paxRecord("comment", "c".repeat(1000))).file("x", DATA).bytes())),
                layer + 512 + 100),
            "ends at byte " + (layer + 512 + 100) + ", inside the tar records of PaxHeaders/x"),
        hostile("cut before the end-of-archive marker", Arrays.copyOf(whole, whole.length - 1024),
            "ends without its end-of-archive marker"),
        hostile("data after the end-of-archive marker", concat(whole, DATA),
            "data after its end-of-archive marker (at byte " + whole.length + ")"),
        hostile("a second bundle after the first", concat(whole, whole),
            "data after its end-of-archive marker"),
        hostile("a header with a bad checksum", damagedHeader,
            "corrupt tar header at byte " + layer, "bad checksum"),
        hostile("a PAX record whose length prefix claims gigabytes",
            bundle(List.of(new TarBytes().extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC, "9999999999 path=x\n")
                .file("x", DATA).bytes())),
            "damaged tar header PaxHeaders/x at byte " + layer, "Paxheader"),
        hostile("a PAX header claiming 3 GiB",
            bundle(List.of(TarBytes.header("PaxHeaders/huge", TarConstants.LF_PAX_EXTENDED_HEADER_LC, 3L << 30))),
            "tar entry PaxHeaders/huge of the bundle is an extended header of 3221225472 bytes"),
        hostile("a PAX header over 64 KiB",
            bundle(List.of(new TarBytes().extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC,
                TarBytes.paxRecord("comment", "c".repeat(100_000))).file("x", DATA).bytes())),
            "is an extended header of 100016 bytes"),
        hostile("a GNU long name claiming 8 GiB",
            bundle(List.of(TarBytes.header("././@LongLink", TarConstants.LF_GNUTYPE_LONGNAME, 8L << 30))),
            "tar entry ././@LongLink of the bundle is an extended header of 8589934592 bytes"),
        hostile("a chain of extended headers",
            bundle(List.of(chainOfExtendedHeaders(20))),
            "follows 8 extended headers of one entry"),
        hostile("an extended header with no entry after it",
            concat(concat(entries().subList(0, 4)), new TarBytes().extended(TarConstants.LF_GNUTYPE_LONGNAME, "x").end().bytes()),
            "tar entry ././@LongLink of the bundle is an extended header with no entry after it"),
        hostile("a name with ..", bundle(List.of(file("blobs/../../escaped", DATA))),
            "tar entry blobs/../../escaped of the bundle has a name with '..'"),
        hostile("an absolute name", bundle(List.of(file(OUTSIDE, DATA))),
            "tar entry " + OUTSIDE + " of the bundle has an absolute name"),
        hostile("a PAX path with ..", bundle(List.of(new TarBytes()
                .extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC, TarBytes.paxRecord("path", "../../escaped")).file("x", DATA).bytes())),
            "tar entry ../../escaped of the bundle has a name with '..'"),
        // Compress makes a PAX or GNU name relative (it strips leading slashes): no longer a bundle's name.
        hostile("an absolute PAX path", bundle(List.of(new TarBytes()
                .extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC, TarBytes.paxRecord("path", OUTSIDE)).file("x", DATA).bytes())),
            "unexpected entry " + OUTSIDE.substring(1) + " in the bundle"),
        hostile("a GNU long name with ..", bundle(List.of(new TarBytes()
                .extended(TarConstants.LF_GNUTYPE_LONGNAME, "blobs/sha256/../../../escaped").file("x", DATA).bytes())),
            "tar entry blobs/sha256/../../../escaped of the bundle has a name with '..'"),
        hostile("a symbolic link",
            bundle(List.of(TarBytes.header(name(LAYER.digest()), TarConstants.LF_SYMLINK, 0, "/etc/passwd"))),
            "tar entry " + name(LAYER.digest()) + " of the bundle is a symbolic link (to /etc/passwd)"),
        hostile("a hard link",
            bundle(List.of(TarBytes.header(name(LAYER.digest()), TarConstants.LF_LINK, 0, "oci-layout"))),
            "is a hard link (to oci-layout)"),
        hostile("a character device", bundle(List.of(TarBytes.header("dev/zero", TarConstants.LF_CHR, 0))),
            "tar entry dev/zero of the bundle is a character device"),
        hostile("a block device", bundle(List.of(TarBytes.header("dev/sda", TarConstants.LF_BLK, 0))),
            "is a block device"),
        hostile("a FIFO", bundle(List.of(TarBytes.header("fifo", TarConstants.LF_FIFO, 0))),
            "tar entry fifo of the bundle is a FIFO"),
        hostile("an entry type tar tools do not share", bundle(List.of(TarBytes.header("label", (byte) 'V', 0))),
            "is of tar entry type 'V'"),
        hostile("a directory with data", bundle(List.of(new TarBytes()
                .raw(TarBytes.header("blobs/", TarConstants.LF_DIR, 512)).data(new byte[512]).bytes())),
            "tar entry blobs/ of the bundle is a directory with 512 bytes of data"),
        hostile("an old GNU sparse file",
            bundle(List.of(TarBytes.header(name(LAYER.digest()), TarConstants.LF_GNUTYPE_SPARSE, 0))),
            "is a sparse file"),
        hostile("a PAX 0.1 sparse file", bundle(List.of(new TarBytes().extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC,
                TarBytes.paxRecord("GNU.sparse.size", "3000") + TarBytes.paxRecord("GNU.sparse.map", "0,10"))
                .file(name(LAYER.digest()), new byte[10]).bytes())),
            "tar entry " + name(LAYER.digest()) + " of the bundle is a sparse file"),
        hostile("a PAX 1.0 sparse file", bundle(List.of(paxSparse(1, "0\n" + LAYER.bytes().length + "\n", LAYER.bytes().length))),
            "is a sparse file"),
        hostile("a PAX 1.0 sparse map of millions of holes",
            bundle(List.of(paxSparse(1_000_000_000_000L, "0\n1\n".repeat(1 << 19), 1 << 22))),
            "more than 1048576 bytes of tar headers for one entry"),
        hostile("a blob twice", bundle(List.of(file(name(CONFIG.digest()), CONFIG.bytes()))),
            "the bundle holds " + name(CONFIG.digest()) + " twice"),
        hostile("a second, different index.json", bundle(List.of(file("index.json", "{}".getBytes(StandardCharsets.UTF_8)))),
            "the bundle holds index.json twice"),
        hostile("a second table of contents", bundle(List.of(entries().get(1))),
            "the bundle holds " + Bundle.FILE + " twice"),
        hostile("an entry a bundle does not hold", bundle(List.of(file("README", DATA))),
            "unexpected entry README in the bundle"),
        hostile("a blob whose bytes are not its digest's", concat(concat(swapped), new TarBytes().end().bytes()),
            name(LAYER.digest()) + " in the bundle does not match its digest"),
        hostile("a manifest over the manifest cap",
            bundle(List.of(TarBytes.header(name(IMAGE.digest()), TarConstants.LF_NORMAL, 5 << 20))),
            "manifest " + IMAGE.digest() + " in the bundle is 5242880 bytes"),
        hostile("a table of contents over 64 MiB", concat(entries().get(0), TarBytes.header(Bundle.FILE, TarConstants.LF_NORMAL,
                65L << 20)),
            Bundle.FILE + " is 68157440 bytes: not a Cistern bundle"),
        new Hostile("a blob over the cache's cap",
            bundle(List.of(TarBytes.header(name(Digest.sha256Of(DATA)), TarConstants.LF_NORMAL, 2 << 20))),
            List.of("no room in the cache for " + Digest.sha256Of(DATA) + " (2097152 bytes)"),
            Map.of("CISTERN_CACHE_MAXBYTES", "1MiB")));
  }

  /** A hostile bundle's import: its CLI, its cache, what the import printed. */
  private record Imported(CisternCli cli, Path cache, CisternCli.Run run) {}

  @TempDir
  static Path corpusDirectory;
  private static Map<String, Imported> corpusImports;
  private static Set<Path> besidesTheCachesBefore;

  /**
   * Imports the whole corpus before its tests, at once, each bundle into a cache of its own: an
   * import spends most of its time in the CLI's pause between two looks at its job. One that hangs
   * fails them all.
   */
  @BeforeAll
  static void importTheCorpus() throws Exception {
    Map<String, Callable<Imported>> imports = new LinkedHashMap<>();
    for (Hostile hostile : corpus().toList()) {
      Path directory = Files.createDirectories(corpusDirectory.resolve("case" + imports.size()));
      Path bundle = Files.write(directory.resolve("bundle.tar"), hostile.bundle());
      Path cache = directory.resolve("cache");
      CisternCli cli = CisternCli.forCache(directory.resolve("cli.yml"), cache, 1, OFFLINE)
          .withEnvironment(hostile.environment());
      imports.put(hostile.name(), () -> new Imported(cli, cache, cli.run("import", bundle.toString())));
    }
    besidesTheCachesBefore = filesBesidesCaches();
    ExecutorService pool = Executors.newFixedThreadPool(8);
    try {
      Map<String, Future<Imported>> running = new LinkedHashMap<>();
      imports.forEach((name, work) -> running.put(name, pool.submit(work)));
      corpusImports = new LinkedHashMap<>();
      for (Map.Entry<String, Future<Imported>> done : running.entrySet()) {
        corpusImports.put(done.getKey(), done.getValue().get(1, TimeUnit.MINUTES));
      }
    } finally {
      pool.shutdown();
    }
  }

  private static Set<Path> filesBesidesCaches() throws IOException {
    try (Stream<Path> files = Files.walk(corpusDirectory)) {
      // corpusDirectory/caseN/cache/… is a case's cache.
      return files.map(corpusDirectory::relativize)
          .filter(file -> file.getNameCount() < 2 || !file.getName(1).toString().equals("cache"))
          .collect(Collectors.toSet());
    }
  }

  @ParameterizedTest(name = "{0}")
  @MethodSource("corpus")
  void aHostileOrDamagedBundleIsRefusedClearlyAndLeavesNothingHalfImported(Hostile hostile) throws Exception {
    Imported imported = corpusImports.get(hostile.name());
    CisternCli.Run run = imported.run();

    assertEquals(1, run.exitCode(), run.out() + run.err());
    for (String part : hostile.says()) {
      assertTrue(run.err().contains(part), "expected '" + part + "' in: " + run.err());
    }
    assertFalse(run.err().contains("Exception") || run.err().contains("\tat "), "a message, not a trace: " + run.err());
    assertEquals(besidesTheCachesBefore, filesBesidesCaches(), "nothing written outside the caches");
    assertFalse(Files.exists(Path.of(OUTSIDE)));
    List<Path> stored;
    try (Stream<Path> files = Files.walk(imported.cache().resolve("blobs"))) {
      stored = files.filter(Files::isRegularFile).toList();
    }
    assertTrue(stored.stream().noneMatch(file -> file.getFileName().toString().endsWith(".partial")), "no temp file: " + stored);
    for (Path file : stored) {
      Digest digest = Digest.parse("sha256:" + file.getFileName());
      assertTrue(IMAGE.blobs().stream().anyMatch(blob -> blob.digest().equals(digest)), "only the image's blobs, whole: " + file);
      assertArrayEquals(IMAGE.blobs().stream().filter(blob -> blob.digest().equals(digest)).findFirst().orElseThrow().bytes(),
          Files.readAllBytes(file));
    }
    String stats = imported.cli().run("stats", "--json").orFail().out();
    assertTrue(stats.contains("\"entries\" : " + stored.size()), "a row for each file, no more: " + stats);
    assertTrue(imported.cli().run("ls").orFail().out().contains("nothing cached"), "no manifest, no tag");
  }

  private static String name(Digest digest) {
    return BundleExporter.entryName(digest);
  }

  private static byte[] file(String name, byte[] content) {
    return new TarBytes().file(name, content).bytes();
  }

  /** The entries of a whole bundle of {@link #IMAGE}, in the order an export writes them. */
  private static List<byte[]> entries() {
    Bundle toc = new Bundle(Bundle.FORMAT,
        List.of(new Bundle.Image("upstream.test", "team/app", "1.0", IMAGE.digest().toString(), MediaTypes.OCI_MANIFEST)),
        List.of(new Bundle.Content(IMAGE.digest().toString(), MediaTypes.OCI_MANIFEST, IMAGE.manifest().bytes().length)),
        3, CONFIG.bytes().length + LAYER.bytes().length + IMAGE.manifest().bytes().length);
    return List.of(
        file("oci-layout", "{\"imageLayoutVersion\":\"1.0.0\"}".getBytes(StandardCharsets.UTF_8)),
        file(Bundle.FILE, Json.prettyBytes(toc)),
        file("index.json", Json.prettyBytes(Map.of("schemaVersion", 2, "manifests", List.of()))),
        file(name(CONFIG.digest()), CONFIG.bytes()),
        file(name(LAYER.digest()), LAYER.bytes()),
        file(name(IMAGE.digest()), IMAGE.manifest().bytes()));
  }

  /** A whole bundle with {@code inserted} after the config blob, which is imported before any of it is read. */
  private static byte[] bundle(List<byte[]> inserted) {
    List<byte[]> parts = new ArrayList<>(entries());
    parts.addAll(4, inserted);
    parts.add(new TarBytes().end().bytes());
    return concat(parts);
  }

  private static int offsetOfEntry(int index) {
    return entries().subList(0, index).stream().mapToInt(entry -> entry.length).sum();
  }

  private static byte[] chainOfExtendedHeaders(int count) {
    TarBytes tar = new TarBytes();
    for (int i = 0; i < count; i++) {
      tar.extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC, TarBytes.paxRecord("comment", "header " + i));
    }
    return tar.file("x", DATA).bytes();
  }

  /** GNU tar's PAX 1.0 sparse file: the map, {@code holes} entries announced, at the start of the data. */
  private static byte[] paxSparse(long holes, String map, long realSize) {
    String records = TarBytes.paxRecord("GNU.sparse.major", "1") + TarBytes.paxRecord("GNU.sparse.minor", "0")
        + TarBytes.paxRecord("GNU.sparse.name", name(LAYER.digest())) + TarBytes.paxRecord("GNU.sparse.realsize",
        Long.toString(realSize));
    byte[] data = (holes + "\n" + map).getBytes(StandardCharsets.UTF_8);
    return new TarBytes().extended(TarConstants.LF_PAX_EXTENDED_HEADER_LC, records)
        .entry("GNUSparseFile.0/layer", TarConstants.LF_NORMAL, data).bytes();
  }

  private static byte[] concat(byte[]... parts) {
    return concat(Arrays.asList(parts));
  }

  private static byte[] concat(List<byte[]> parts) {
    return parts.stream().reduce(new byte[0], (a, b) -> {
      byte[] joined = Arrays.copyOf(a, a.length + b.length);
      System.arraycopy(b, 0, joined, a.length, b.length);
      return joined;
    });
  }
}
