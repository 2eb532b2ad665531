package io.cistern.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import io.cistern.upstream.TagRevalidation;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

class ConfigLoaderTest {

  @TempDir
  Path temp;

  private final ConfigLoader loader = new ConfigLoader();

  @AfterEach
  void detachAppenders() {
    ((Logger) LoggerFactory.getLogger(ConfigLoader.class)).detachAndStopAllAppenders();
  }

  @Test
  void runsOnEmbeddedDefaultsWithNoFileAtAll() {
    CisternConfig config = loader.load(null, Map.of());
    assertEquals(5000, config.server().port());
    assertEquals(Path.of("./cistern-data"), config.cache().directory());
    assertEquals(50L << 30, config.cache().maxBytes().bytes());
    assertEquals(Duration.ofMinutes(5), config.tagTtl());
    assertEquals(1, config.upstreams().size());
    assertEquals("docker.io", config.upstreams().get(0).host());
    assertEquals(URI.create("https://registry-1.docker.io"), config.upstreams().get(0).effectiveUrl());
    assertFalse(config.offline());
  }

  @Test
  void aFileOverridesKeysAndKeepsTheOtherDefaults() throws Exception {
    Path file = temp.resolve("cistern.yml");
    Files.writeString(file, """
        server:
          port: 6000
        cache:
          maxBytes: 512MiB
        upstreams:
          - host: ghcr.io
        """);
    CisternConfig config = loader.load(file, Map.of());
    assertEquals(6000, config.server().port());
    assertEquals("0.0.0.0", config.server().address(), "untouched keys keep their default");
    assertEquals(512L << 20, config.cache().maxBytes().bytes());
    assertEquals(0.9, config.cache().lowWaterFraction());
    assertEquals(1, config.upstreams().size(), "a list replaces the default list");
    assertEquals(URI.create("https://ghcr.io"), config.upstreams().get(0).effectiveUrl());
  }

  @Test
  void environmentVariablesOverrideTheFile() throws Exception {
    Path file = temp.resolve("cistern.yml");
    Files.writeString(file, "server:\n  port: 6000\n");
    CisternConfig config = loader.load(file, Map.of(
        "CISTERN_SERVER_PORT", "7000",
        "CISTERN_CACHE_MAXBYTES", "2GB",
        "CISTERN_TAGTTL", "30s",
        "CISTERN_UPSTREAMS_0_URL", "http://127.0.0.1:9999",
        "CISTERN_UPSTREAMS_1_HOST", "quay.io",
        "CISTERN_CONFIG", "/ignored/as/an/override",
        "PATH", "/usr/bin"));
    assertEquals(7000, config.server().port());
    assertEquals(2_000_000_000L, config.cache().maxBytes().bytes());
    assertEquals(Duration.ofSeconds(30), config.tagTtl());
    assertEquals(URI.create("http://127.0.0.1:9999"), config.upstreams().get(0).url());
    assertEquals("quay.io", config.upstreams().get(1).host());
    assertNull(config.upstreams().get(1).url());
  }

  @Test
  void theScrubIsOffByDefaultAndTakesItsPaceAsASize() {
    assertEquals(0, loader.load(null, Map.of()).cache().scrub().bytesPerSecond().bytes());
    assertEquals(20L << 20, loader.load(null, Map.of("CISTERN_CACHE_SCRUB_BYTESPERSECOND", "20MiB"))
        .cache().scrub().bytesPerSecond().bytes());
  }

  @Test
  void mistakesAreReportedInOneLine() throws Exception {
    Path typo = temp.resolve("typo.yml");
    Files.writeString(typo, "cache:\n  maxbites: 1GiB\n");
    ConfigException unknownKey = assertThrows(ConfigException.class, () -> loader.load(typo, Map.of()));
    assertTrue(unknownKey.getMessage().startsWith("cache.maxbites: "), unknownKey.getMessage());

    Path badSize = temp.resolve("size.yml");
    Files.writeString(badSize, "cache:\n  maxBytes: lots\n");
    ConfigException size = assertThrows(ConfigException.class, () -> loader.load(badSize, Map.of()));
    assertTrue(size.getMessage().startsWith("cache.maxBytes: ") && size.getMessage().contains("lots"), size.getMessage());
    ConfigException port = assertThrows(ConfigException.class, () -> loader.load(null, Map.of("CISTERN_UPSTREAMS_0_TAGTTL", "soon")));
    assertTrue(port.getMessage().startsWith("upstreams[0].tagTtl: "), port.getMessage());
    for (ConfigException mistake : List.of(unknownKey, size, port)) {
      assertFalse(mistake.getMessage().contains("\n"), "one line: " + mistake.getMessage());
    }

    assertThrows(ConfigException.class, () -> loader.load(temp.resolve("missing.yml"), Map.of()));
    ConfigException belowAValue = assertThrows(ConfigException.class, () -> loader.load(null, Map.of("CISTERN_SERVER_PORT_X", "1")));
    assertTrue(belowAValue.getMessage().contains("CISTERN_SERVER_PORT_X"), belowAValue.getMessage());
    assertThrows(ConfigException.class, () -> loader.load(null, Map.of("CISTERN_UPSTREAMS_99999999999_URL", "https://x")));
  }

  @Test
  void scalarsAreReadAsTheirKeysTypeFromTheTextAsWritten() throws Exception {
    Path file = temp.resolve("scalars.yml");
    Files.writeString(file, """
        offline: yes
        defaultUpstream: 'null'
        upstreams:
          - host: 1.10
            username: 0123
            password: 1e3
        log:
          level: ~
        """);
    CisternConfig config = loader.load(file, Map.of("CISTERN_CACHE_POOLSIZE", " 8 ", "CISTERN_BUCKET_PATHSTYLE", "TRUE"));
    assertTrue(config.offline(), "YAML's older words for a flag");
    assertEquals("null", config.defaultUpstream(), "quoted, null is text");
    assertEquals(List.of("1.10", "0123", "1e3"), List.of(config.upstreams().get(0).host(), config.upstreams().get(0).username(),
        config.upstreams().get(0).password()), "text keys keep what was written, never a number's reading of it");
    assertNull(config.log().level());
    assertEquals(8, config.cache().poolSize());
    assertTrue(config.bucket().pathStyle());
  }

  @Test
  void aValueOfTheWrongShapeOrTypeIsOneLineNamingItsKey() throws Exception {
    Map<String, String> mistakes = Map.of(
        "server: [5000]", "server: must be a mapping of keys, not a list",
        "tagTtl: {minutes: 5}", "tagTtl: must be a single value, not a mapping",
        "server: {port: five}", "server.port: must be a whole number, not 'five'",
        "offline: maybe", "offline: must be true or false, not 'maybe'",
        "cache: {lowWaterFraction: most}", "cache.lowWaterFraction: must be a number, not 'most'",
        "cluster: {members: [http://a:5000, null]}", "cluster.members[1]: a list entry may not be null",
        "upstreams: [{host: corp, url: 'https://bot:hunter2@registry corp'}]", "upstreams[0].url: not a URI: ",
        "cache: {maxbites: 1GiB}", "cache.maxbites: not a configuration key; cache takes directory, maxBytes, ");
    for (Map.Entry<String, String> mistake : mistakes.entrySet()) {
      Path file = temp.resolve("mistake.yml");
      Files.writeString(file, mistake.getKey() + "\n");
      ConfigException refused = assertThrows(ConfigException.class, () -> loader.load(file, Map.of()), mistake.getKey());
      assertTrue(refused.getMessage().startsWith(mistake.getValue()), refused.getMessage());
      assertFalse(refused.getMessage().contains("\n"), refused.getMessage());
      assertFalse(refused.getMessage().contains("hunter2"), "never the password in a url: " + refused.getMessage());
    }
  }

  @Test
  void aFileThatIsNotPlainYamlIsRefusedInOneLine() throws Exception {
    Map<String, String> mistakes = Map.of(
        "tagTtl: &ttl 1m\nmaxStale: *ttl\n", "anchors and aliases are not supported: *ttl at line 2",
        "server: {port: 5000\n", "expected ',' or '}'",
        "- server\n", "must be a YAML mapping");
    for (Map.Entry<String, String> mistake : mistakes.entrySet()) {
      Path file = temp.resolve("mistake.yml");
      Files.writeString(file, mistake.getKey());
      ConfigException refused = assertThrows(ConfigException.class, () -> loader.load(file, Map.of()), mistake.getKey());
      assertTrue(refused.getMessage().contains(mistake.getValue()), refused.getMessage());
      assertFalse(refused.getMessage().contains("\n"), refused.getMessage());
    }
  }

  @Test
  void anUpstreamsUrlsAreAListTheEnvironmentCanExtendAndTheirMistakesNameTheKeyInOneLine() throws Exception {
    Path file = temp.resolve("urls.yml");
    Files.writeString(file, "upstreams:\n  - host: docker.io\n    urls: [https://mirror.corp.example, https://registry-1.docker.io]\n");
    CisternConfig config = loader.load(file, Map.of("CISTERN_UPSTREAMS_0_URLS_2", "https://backup.corp.example",
        "CISTERN_UPSTREAMS_0_FAILOVERMEMORY", "90s"));
    CisternConfig.UpstreamConfig hub = config.upstreams().get(0);
    assertEquals(List.of(URI.create("https://mirror.corp.example"), URI.create("https://registry-1.docker.io"),
        URI.create("https://backup.corp.example")), hub.urls());
    assertEquals(URI.create("https://mirror.corp.example"), hub.effectiveUrl());
    assertEquals(Duration.ofSeconds(90), hub.failoverMemory());

    Path notAList = temp.resolve("not-a-list.yml");
    Files.writeString(notAList, "upstreams:\n  - host: docker.io\n    urls: https://mirror.corp.example\n");
    ConfigException single = assertThrows(ConfigException.class, () -> loader.load(notAList, Map.of()));
    assertTrue(single.getMessage().startsWith("upstreams[0].urls: "), single.getMessage());
    ConfigException memory = assertThrows(ConfigException.class,
        () -> loader.load(file, Map.of("CISTERN_UPSTREAMS_0_FAILOVERMEMORY", "a while")));
    assertTrue(memory.getMessage().startsWith("upstreams[0].failoverMemory: "), memory.getMessage());
    for (ConfigException mistake : List.of(single, memory)) {
      assertFalse(mistake.getMessage().contains("\n"), "one line: " + mistake.getMessage());
    }
  }

  @Test
  void repositoryRulesAreReadPerUpstreamFromTheFileOrTheEnvironment() throws Exception {
    Path file = temp.resolve("rules.yml");
    Files.writeString(file, """
        upstreams:
          - host: docker.io
            repositories:
              allow: [library/*, myorg/**]
              deny: [myorg/secret/**]
          - host: ghcr.io
        """);
    CisternConfig config = loader.load(file, Map.of());
    CisternConfig.Repositories rules = config.upstreams().get(0).repositories();
    assertEquals(List.of("library/*", "myorg/**"), rules.allow().stream().map(Object::toString).toList());
    assertEquals(List.of("myorg/secret/**"), rules.deny().stream().map(Object::toString).toList());
    assertNull(config.upstreams().get(1).repositories(), "no rules: every repository is served");

    CisternConfig fromEnvironment = loader.load(null, Map.of("CISTERN_UPSTREAMS_0_REPOSITORIES_DENY_0", "**/private"));
    assertEquals("**/private", fromEnvironment.upstreams().get(0).repositories().deny().get(0).toString());
    assertNull(fromEnvironment.upstreams().get(0).repositories().allow());
  }

  @Test
  void aBadRepositoryGlobIsOneLineNamingItsKey() throws Exception {
    Map<String, String> mistakes = Map.of(
        "deny: [ok/*, '']", "upstreams[0].repositories.deny[1]: a repository glob may not be empty",
        "allow: [Library/*]", "upstreams[0].repositories.allow[0]: 'Library/*' holds 'L' at 0",
        "allow: ['library/*', 'team/app:1']", "upstreams[0].repositories.allow[1]: 'team/app:1' holds ':' at 8",
        "deny: [myorg//x]", "upstreams[0].repositories.deny[0]: 'myorg//x' has an empty path segment",
        "deny: [myorg/**x]", "upstreams[0].repositories.deny[0]: 'myorg/**x': '**' must be a path segment of its own",
        "allow: library/*", "upstreams[0].repositories.allow: ",
        "alow: [library/*]", "upstreams[0].repositories.alow: ");
    for (Map.Entry<String, String> mistake : mistakes.entrySet()) {
      Path file = temp.resolve("mistake.yml");
      Files.writeString(file, "upstreams:\n  - host: docker.io\n    repositories: {" + mistake.getKey() + "}\n");
      ConfigException refused = assertThrows(ConfigException.class, () -> loader.load(file, Map.of()), mistake.getKey());
      assertTrue(refused.getMessage().startsWith(mistake.getValue()), refused.getMessage());
      assertFalse(refused.getMessage().contains("\n"), "one line: " + refused.getMessage());
    }
  }

  @Test
  void kubernetesServiceLinksForAServiceNamedCisternAreNotConfiguration() {
    // What Kubernetes puts in every pod of a namespace with a Service "cistern" (enableServiceLinks).
    Map<String, String> serviceLinks = Map.of(
        "CISTERN_SERVICE_HOST", "10.96.0.12",
        "CISTERN_SERVICE_PORT", "5000",
        "CISTERN_SERVICE_PORT_REGISTRY", "5000",
        "CISTERN_PORT", "tcp://10.96.0.12:5000",
        "CISTERN_PORT_5000_TCP", "tcp://10.96.0.12:5000",
        "CISTERN_PORT_5000_TCP_PROTO", "tcp",
        "CISTERN_PORT_5000_TCP_PORT", "5000",
        "CISTERN_PORT_5000_TCP_ADDR", "10.96.0.12",
        "CISTERN_SERVER_PORT", "5001");
    ListAppender<ILoggingEvent> warnings = warnings();
    CisternConfig config = loader.load(null, serviceLinks);
    assertEquals(5001, config.server().port(), "real keys still apply");
    assertEquals(List.of(), warnings.list, "service links are expected, not worth a warning");
  }

  @Test
  void serviceLinksOfAServiceNamedAfterASectionAreNotConfigurationButTheSectionsKeysStillApply() {
    // A Service "cistern-cluster" gives these; cluster is a section, so they start like its keys.
    ListAppender<ILoggingEvent> warnings = warnings();
    CisternConfig config = loader.load(null, Map.of(
        "CISTERN_CLUSTER_SERVICE_HOST", "10.96.0.13",
        "CISTERN_CLUSTER_SERVICE_PORT", "5000",
        "CISTERN_CLUSTER_PORT", "tcp://10.96.0.13:5000",
        "CISTERN_CLUSTER_PORT_5000_TCP_ADDR", "10.96.0.13",
        "CISTERN_CLUSTER_SERVICE", "cistern-members",
        "CISTERN_CLUSTER_TOKEN", "s3cret",
        "CISTERN_CLUSTER_SELF", "http://10.1.2.3:5000"));
    assertEquals("cistern-members", config.cluster().service());
    assertEquals(5000, config.cluster().servicePort(), "the default, untouched by CISTERN_CLUSTER_SERVICE_PORT");
    assertEquals("s3cret", config.cluster().token());
    assertEquals(URI.create("http://10.1.2.3:5000"), config.cluster().self());
    assertEquals(List.of(), warnings.list);
  }

  @Test
  void clusterAndBucketAreOffByDefaultWithTheDesignsDefaults() {
    CisternConfig config = loader.load(null, Map.of());
    assertFalse(config.cluster().enabled());
    assertEquals(List.of(), config.cluster().members());
    assertEquals(5000, config.cluster().servicePort());
    assertEquals(Duration.ofSeconds(10), config.cluster().refreshInterval());
    assertEquals(Duration.ofSeconds(2), config.cluster().probeInterval());
    assertFalse(config.bucket().enabled());
    assertEquals("us-east-1", config.bucket().region());
    assertEquals("cistern/", config.bucket().prefix());
    assertFalse(config.bucket().pathStyle());
    assertFalse(config.bucket().redirect());
    assertEquals(Duration.ofMinutes(5), config.bucket().presignTtl());
  }

  @Test
  void aVariableNamingNoKeyIsIgnoredWithAWarningAndTopLevelKeysWithoutDefaultsStillApply() {
    ListAppender<ILoggingEvent> warnings = warnings();
    CisternConfig config = loader.load(null, Map.of(
        "CISTERN_CACHEDIRECTORY", "/typo",
        "CISTERN_DEFAULTUPSTREAM", "docker.io",
        "CISTERN_DOCKERCONFIG", "/etc/cistern/docker.json"));
    assertEquals(Path.of("./cistern-data"), config.cache().directory());
    assertEquals("docker.io", config.defaultUpstream());
    assertEquals(Path.of("/etc/cistern/docker.json"), config.dockerConfig());
    assertEquals(1, warnings.list.size(), warnings.list.toString());
    assertTrue(warnings.list.get(0).getFormattedMessage().contains("CISTERN_CACHEDIRECTORY"));
  }

  @Test
  void sizesAndDurationsReadLikePeopleWriteThem() {
    assertEquals(50L << 30, ByteSize.parse("50GiB").bytes());
    assertEquals(10_000_000_000L, ByteSize.parse("10GB").bytes());
    assertEquals(1536, ByteSize.parse("1.5KiB").bytes());
    assertEquals(123, ByteSize.parse("123").bytes());
    assertThrows(IllegalArgumentException.class, () -> ByteSize.parse("5 parsecs"));
    assertEquals(Duration.ofDays(30), Durations.parse("30d"));
    assertEquals(Duration.ofMillis(250), Durations.parse("250ms"));
    assertEquals(Duration.ofMinutes(90), Durations.parse("PT1H30M"));
    assertThrows(IllegalArgumentException.class, () -> Durations.parse("soon"));
  }

  @Test
  void aDurationTooLongForAnyTimerIsAClearErrorNotAnOverflow() {
    for (String text : List.of("99999999999999d", "999999999999999999999d", "P106751991167301D", "-PT5S")) {
      IllegalArgumentException error = assertThrows(IllegalArgumentException.class, () -> Durations.parse(text), text);
      assertTrue(error.getMessage().contains(text), error.getMessage());
    }
    assertEquals(Duration.ofDays(36_500), Durations.parse("36500d"), "a century is fine");
  }

  @Test
  void productionSectionsDefaultToAnOpenAdminPortAndEverySecurityFeatureOff() {
    CisternConfig config = loader.load(null, Map.of());
    assertEquals(9090, config.admin().port());
    assertEquals("0.0.0.0", config.admin().address());
    assertEquals(1L << 30, config.cache().minFreeDisk().bytes());
    assertNull(config.admin().minFreeDisk(), "the old name is unset");
    assertFalse(config.security().tls().enabled());
    assertNull(config.security().auth().htpasswd());
    assertNull(config.security().auth().bearerToken());
    assertEquals("INFO", config.log().level());
    assertEquals("text", config.log().access().format());
    assertEquals(Duration.ofSeconds(20), config.shutdown().grace());
  }

  @Test
  void productionKeysTakeTheirEnvironmentVariablesLikeAnyOther() {
    CisternConfig config = loader.load(null, Map.of(
        "CISTERN_LOG_LEVEL", "DEBUG",
        "CISTERN_LOG_ACCESS_FORMAT", "json",
        "CISTERN_ADMIN_PORT", "9191",
        "CISTERN_SECURITY_AUTH_BEARERTOKEN", "from-a-secret",
        "CISTERN_SECURITY_TLS_CERTIFICATE", "/etc/cistern/tls/tls.crt",
        "CISTERN_SECURITY_TLS_KEY", "/etc/cistern/tls/tls.key",
        "CISTERN_SHUTDOWN_GRACE", "45s"));
    assertEquals("DEBUG", config.log().level(), "the variable the logging set-up reads is also a configuration key");
    assertEquals("json", config.log().access().format());
    assertEquals(9191, config.admin().port());
    assertEquals("from-a-secret", config.security().auth().bearerToken());
    assertTrue(config.security().tls().enabled());
    assertEquals(Path.of("/etc/cistern/tls/tls.key"), config.security().tls().key());
    assertEquals(Duration.ofSeconds(45), config.shutdown().grace());
    assertFalse(config.toString().contains("from-a-secret"), "the token is never printed: " + config);
  }

  @Test
  void tagsAreRevalidatedInTheBackgroundUpToADayPastTheirTtlUnlessAnUpstreamOrTheTopLevelSaysOtherwise() throws Exception {
    CisternConfig defaults = loader.load(null, Map.of());
    assertEquals(TagRevalidation.BACKGROUND, defaults.tagRevalidation());
    assertEquals(Duration.ofHours(24), defaults.maxStale());
    assertNull(defaults.upstreams().get(0).tagRevalidation(), "an upstream without its own takes the top-level one");
    assertNull(defaults.upstreams().get(0).maxStale());

    Path file = temp.resolve("cistern.yml");
    Files.writeString(file, """
        tagRevalidation: blocking
        maxStale: 1h
        upstreams:
          - host: ci.example
            tagRevalidation: Background
            maxStale: 0s
          - host: docker.io
        """);
    CisternConfig config = loader.load(file, Map.of("CISTERN_UPSTREAMS_1_TAGREVALIDATION", "blocking",
        "CISTERN_UPSTREAMS_1_MAXSTALE", "2h"));
    assertEquals(TagRevalidation.BLOCKING, config.tagRevalidation());
    assertEquals(Duration.ofHours(1), config.maxStale());
    assertEquals(TagRevalidation.BACKGROUND, config.upstreams().get(0).tagRevalidation());
    assertEquals(Duration.ZERO, config.upstreams().get(0).maxStale());
    assertEquals(TagRevalidation.BLOCKING, config.upstreams().get(1).tagRevalidation());
    assertEquals(Duration.ofHours(2), config.upstreams().get(1).maxStale());
  }

  @Test
  void aBadTagRevalidationOrMaxStaleIsOneLineNamingItsKey() throws Exception {
    Map<String, String> mistakes = Map.of(
        "tagRevalidation: sometimes\n", "tagRevalidation: must be background or blocking, not 'sometimes'",
        "upstreams: [{host: ci.example, tagRevalidation: eager}]\n",
        "upstreams[0].tagRevalidation: must be background or blocking, not 'eager'",
        "maxStale: -PT1H\n", "maxStale: the duration '-PT1H' is negative",
        "upstreams: [{host: ghcr.io}, {host: ci.example, maxStale: a while}]\n", "upstreams[1].maxStale: not a duration");
    for (Map.Entry<String, String> mistake : mistakes.entrySet()) {
      Path file = temp.resolve("mistake.yml");
      Files.writeString(file, mistake.getKey());
      ConfigException refused = assertThrows(ConfigException.class, () -> loader.load(file, Map.of()), mistake.getKey());
      assertTrue(refused.getMessage().startsWith(mistake.getValue()), refused.getMessage());
      assertFalse(refused.getMessage().contains("\n"), refused.getMessage());
    }
    ConfigException fromTheEnvironment = assertThrows(ConfigException.class,
        () -> loader.load(null, Map.of("CISTERN_TAGREVALIDATION", "lazy")));
    assertEquals("tagRevalidation: must be background or blocking, not 'lazy'", fromTheEnvironment.getMessage());
  }

  private static ListAppender<ILoggingEvent> warnings() {
    Logger logger = (Logger) LoggerFactory.getLogger(ConfigLoader.class);
    ListAppender<ILoggingEvent> appender = new ListAppender<>();
    appender.start();
    logger.addAppender(appender);
    return appender;
  }
}
