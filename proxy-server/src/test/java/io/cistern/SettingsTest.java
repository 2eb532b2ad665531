package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cluster.Member;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigException;
import io.cistern.config.ConfigLoader;
import io.cistern.upstream.UpstreamSettings;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.bouncycastle.crypto.generators.OpenBSDBCrypt;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

/**
 * A configuration is checked once, right after it is loaded: every mistake is a
 * {@link ConfigException} naming its key, raised before anything is opened.
 */
class SettingsTest {

  @TempDir
  Path temp;

  @ParameterizedTest(name = "{0}")
  @CsvSource(delimiter = '|', textBlock = """
      upstreams[0]      | upstreams: [{host: corp, url: registry.corp.example}]
      upstreams[0]      | upstreams: [{host: corp, url: ftp://registry.corp.example}]
      upstreams[1]      | upstreams: [{host: ghcr.io}, {host: corp, url: https://bot:hunter2@registry.corp.example}]
      upstreams[0]      | upstreams: [{host: ghcr.io, maxConcurrentRequests: 0}]
      upstreams[0]      | upstreams: [{host: ghcr.io, maxConcurrentBlobDownloads: 0}]
      upstreams[0]      | upstreams: [{host: ghcr.io, connectTimeout: 0s}]
      upstreams[0]      | upstreams: [{host: ghcr.io, retryWindow: -1s}]
      upstreams[0].urls | upstreams: [{host: corp, url: https://a.corp.example, urls: [https://b.corp.example]}]
      upstreams[0].urls | upstreams: [{host: corp, urls: []}]
      upstreams[0].urls[1] | upstreams: [{host: corp, urls: [https://a.corp.example, ftp://b.corp.example]}]
      upstreams[1].urls[0] | upstreams: [{host: ghcr.io}, {host: corp, urls: [https://bot:hunter2@a.corp.example]}]
      upstreams[0].urls[1] | upstreams: [{host: corp, urls: [https://a.corp.example, https://a.corp.example/]}]
      upstreams[0].failoverMemory | upstreams: [{host: corp, urls: [https://a.corp.example, https://b.corp.example], failoverMemory: 0s}]
      upstreams[1].mirror | upstreams: [{host: ghcr.io}, {host: quay.io, url: http://site:5000, mirror: path}]
      upstreams[0].mirror | upstreams: [{host: ghcr.io, mirror: ns}]
      upstreams         | upstreams: [{host: Docker.io}, {host: docker.io}]
      upstreams[1].repositories | upstreams: [{host: docker.io}, {host: ghcr.io, repositories: {allow: []}}]
      upstreams[0].repositories | upstreams: [{host: ghcr.io, repositories: {deny: [a/*, null]}}]
      defaultUpstream   | defaultUpstream: quay.io
      cache             | cache: {lowWaterFraction: 1.5}
      cache             | cache: {poolSize: 1}
      server            | server: {port: 70000}
      admin             | admin: {port: -1}
      server.idleTimeout | server: {idleTimeout: 0s}
      log.access.format | log: {access: {format: xml}}
      tagRevalidation   | tagRevalidation: null
      maxStale          | maxStale: null
      security.tls      | security: {tls: {certificate: /etc/cistern/tls.crt}}
      cluster.members[1] | cluster: {members: [http://a:5000, ftp://b], token: t0ken, self: http://a:5000}
      cluster.members[0] | cluster: {members: [http://a:5000/v2/], token: t0ken, self: http://a:5000}
      cluster.token     | cluster: {members: [http://a:5000]}
      cluster.self      | cluster: {members: [http://a:5000], token: t0ken}
      cluster.self      | cluster: {members: [http://a:5000], token: t0ken, self: a:5000}
      cluster           | cluster: {members: [http://a:5000], service: cistern, token: t0ken, self: http://a:5000}
      cluster.servicePort | cluster: {service: cistern, servicePort: 0, token: t0ken, self: http://a:5000}
      cluster.probeInterval | cluster: {service: cistern, probeInterval: 0s, token: t0ken, self: http://a:5000}
      bucket            | bucket: {name: b, endpoint: s3.example.com}
      bucket            | bucket: {name: b, region: ''}
      bucket.presignTtl | bucket: {name: b, presignTtl: 8d}
      bucket.accessKeyId | bucket: {name: b, accessKeyId: AKIAEXAMPLE}
      """)
  void aMistakeIsOneLineNamingItsKey(String key, String yaml) throws Exception {
    ConfigException mistake = assertThrows(ConfigException.class, () -> Settings.of(load(yaml)));
    assertTrue(mistake.getMessage().startsWith(key), mistake.getMessage());
    assertFalse(mistake.getMessage().contains("\n"), mistake.getMessage());
    assertFalse(mistake.getMessage().contains("hunter2"), "never the password in a url: " + mistake.getMessage());
    assertFalse(mistake.getMessage().contains("t0ken"), "never the cluster token: " + mistake.getMessage());
  }

  @Test
  void membersAreNamedAlikeWhateverTheirSpellingAndTheTokenMayComeFromTheEnvironment() throws Exception {
    Settings settings = Settings.of(load("cluster: {members: [HTTP://Cistern-0.cistern:5000/, https://cistern-1]}",
        Map.of("CISTERN_CLUSTER_TOKEN", "from-a-secret", "CISTERN_CLUSTER_SELF", "http://cistern-0.cistern:5000")));
    assertEquals(List.of(Member.of(URI.create("http://cistern-0.cistern:5000")), Member.of(URI.create("https://cistern-1:443"))),
        settings.cluster().members());
    assertEquals(URI.create("https://cistern-1:443"), settings.cluster().members().get(1).url());
    assertEquals("from-a-secret", settings.cluster().token());
    assertEquals(settings.cluster().members().get(0), settings.cluster().self());
    assertFalse(settings.cluster().toString().contains("from-a-secret"));
    assertNull(Settings.of(load("")).cluster(), "no members, no cluster");
    assertNull(Settings.of(load("")).bucket(), "no bucket name, no bucket");
  }

  @Test
  void aBucketIsCheckedWithoutItsKeysWhichTheStartReadsFromTheEnvironment() throws Exception {
    Settings settings = Settings.of(load("bucket: {name: layers, endpoint: 'http://127.0.0.1:9000', pathStyle: true,"
        + " accessKeyId: AKIAEXAMPLE, secretAccessKeyEnv: BUCKET_SECRET}"));
    assertEquals("layers", settings.bucket().bucket());
    assertEquals("cistern", settings.bucket().prefix(), "the default prefix, slashes trimmed");
    assertTrue(settings.bucket().pathStyle());
    assertNull(settings.bucket().keys(), "read at the start, from BUCKET_SECRET");
  }

  @Test
  void anUpstreamUrlWithoutSchemeSaysWhatToWrite() throws Exception {
    ConfigException mistake = assertThrows(ConfigException.class,
        () -> Settings.of(load("upstreams: [{host: corp, url: registry.corp.example}]")));
    assertTrue(mistake.getMessage().contains("https://registry.corp.example"), mistake.getMessage());
  }

  @Test
  void oneFreeSpaceThresholdServesReservationsAndReadinessUnderItsNewNameOrItsOldOne() throws Exception {
    assertEquals(1L << 30, Settings.of(load("cache: {directory: /tmp/c}")).cache().minFreeBytes(), "the default");
    assertEquals(5L << 30, Settings.of(load("cache: {minFreeDisk: 5GiB}")).cache().minFreeBytes());
    assertEquals(3L << 30, Settings.of(load("cache: {minFreeDisk: 5GiB}", Map.of("CISTERN_ADMIN_MINFREEDISK", "3GiB")))
        .cache().minFreeBytes(), "admin.minFreeDisk, the old name, still works, and wins when set");
    ConfigException mistake = assertThrows(ConfigException.class, () -> Settings.of(load("cache: {minFreeDisk: null}")));
    assertTrue(mistake.getMessage().startsWith("cache.minFreeDisk"), mistake.getMessage());
  }

  @Test
  void hostNamesAreLowerCasedOnce() throws Exception {
    Settings settings = Settings.of(load("upstreams: [{host: Docker.IO, url: https://registry-1.docker.io}]"));
    assertEquals("docker.io", settings.upstreams().get(0).host());
    assertTrue(settings.upstreams().get(0).isDockerHub());
  }

  @Test
  void aDownloadRetriesAnUnreachableUpstreamForThirtySecondsUnlessItsRetryWindowSaysOtherwise() throws Exception {
    Settings settings = Settings.of(load("upstreams: [{host: ghcr.io}, {host: quay.io, retryWindow: 2m}]"));
    assertEquals(Duration.ofSeconds(30), settings.upstreams().get(0).retryWindow());
    assertEquals(Duration.ofMinutes(2), settings.upstreams().get(1).retryWindow());
  }

  @Test
  void severalUrlsAreTriedInTheOrderGivenAndTheHealthyOneIsRememberedForFiveMinutesUnlessSaidOtherwise() throws Exception {
    Settings settings = Settings.of(load("""
        upstreams:
          - host: docker.io
            urls: [https://mirror.corp.example/, https://registry-1.docker.io]
          - host: ghcr.io
            urls: [https://ghcr-mirror.corp.example, https://ghcr.io]
            failoverMemory: 30s
          - host: quay.io
        """));
    UpstreamSettings hub = settings.upstreams().get(0);
    assertEquals(List.of(URI.create("https://mirror.corp.example"), URI.create("https://registry-1.docker.io")), hub.urls());
    assertEquals(URI.create("https://mirror.corp.example"), hub.url());
    assertEquals(Duration.ofMinutes(5), hub.failoverMemory());
    assertEquals(Duration.ofSeconds(30), settings.upstreams().get(1).failoverMemory());
    assertEquals(List.of(URI.create("https://quay.io")), settings.upstreams().get(2).urls());
  }

  @Test
  void blobDownloadsAreCappedApartFromSmallRequestsAndAnOldConfigKeepsItsCapOnDownloads() throws Exception {
    Settings settings = Settings.of(load("""
        upstreams:
          - {host: ghcr.io}
          - {host: quay.io, maxConcurrentRequests: 16, maxConcurrentBlobDownloads: 4}
          - {host: registry.corp.example, maxConcurrentRequests: 8}
        """));
    assertEquals(List.of(64, 64), caps(settings.upstreams().get(0)), "the defaults");
    assertEquals(List.of(16, 4), caps(settings.upstreams().get(1)));
    assertEquals(List.of(8, 8), caps(settings.upstreams().get(2)),
        "maxConcurrentRequests alone, as written before downloads had a key of their own, still bounds them");
  }

  private static List<Integer> caps(UpstreamSettings upstream) {
    return List.of(upstream.maxConcurrentRequests(), upstream.maxConcurrentBlobDownloads());
  }

  @Test
  void whatFilesAndTheEnvironmentHoldIsCheckedBeforeTheCacheIsOpened() throws Exception {
    Path htpasswd = temp.resolve("users.htpasswd");
    String hash = OpenBSDBCrypt.generate("2y", "s3cret".toCharArray(), new byte[16], 4);
    Files.writeString(htpasswd, "alice:" + hash + "\nbob:" + hash.replace("$04$", "$99$") + "\n");
    Map<String, String> yamlByKey = Map.of(
        "users.htpasswd line 2", "security: {auth: {htpasswd: " + htpasswd + "}}",
        "upstreams[0].caCertificate", "upstreams: [{host: corp, caCertificate: " + temp.resolve("missing.pem") + "}]",
        "HTTPS_PROXY", "upstreams: [{host: ghcr.io}]",
        "DOCKERHUB_TOKEN", "upstreams: [{host: docker.io, username: bot, passwordEnv: DOCKERHUB_TOKEN}]",
        "BUCKET_SECRET", "bucket: {name: layers, accessKeyId: AKIAEXAMPLE, secretAccessKeyEnv: BUCKET_SECRET}");
    for (Map.Entry<String, String> mistake : yamlByKey.entrySet()) {
      Path cache = temp.resolve("cache-" + Math.abs(mistake.getKey().hashCode()));
      Settings settings = Settings.of(load(mistake.getValue() + "\ncache: {directory: " + cache + "}"));
      ConfigException refused = assertThrows(ConfigException.class, () -> Cistern.start(settings, Clock.systemUTC(),
          Map.of("HTTPS_PROXY", mistake.getKey().equals("HTTPS_PROXY") ? "http://user:pw@proxy.corp:3128" : "")));
      assertTrue(refused.getMessage().contains(mistake.getKey()), refused.getMessage());
      assertFalse(Files.exists(cache), "the cache was never opened: " + mistake.getKey());
    }
  }

  private CisternConfig load(String yaml) throws Exception {
    return load(yaml, Map.of());
  }

  private CisternConfig load(String yaml, Map<String, String> environment) throws Exception {
    Path file = Files.createTempFile(temp, "cistern", ".yml");
    Files.writeString(file, "server: {address: 127.0.0.1, port: 0}\nadmin: {address: 127.0.0.1, port: 0}\n" + yaml + "\n");
    return new ConfigLoader().load(file, environment);
  }
}
