package io.cistern.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.upstream.Credentials;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.Map;
import java.util.Optional;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class CredentialSourcesTest {

  @TempDir
  Path temp;

  private CisternConfig.UpstreamConfig upstream(String yaml) throws Exception {
    Path file = temp.resolve("cistern.yml");
    Files.writeString(file, "upstreams:\n" + yaml);
    return new ConfigLoader().load(file, Map.of()).upstreams().get(0);
  }

  private Path dockerConfig(String json) throws Exception {
    return Files.writeString(temp.resolve("config.json"), json);
  }

  private static String base64(String text) {
    return Base64.getEncoder().encodeToString(text.getBytes(StandardCharsets.UTF_8));
  }

  @Test
  void usernameAndPasswordFromTheConfiguration() throws Exception {
    CisternConfig.UpstreamConfig ghcr = upstream("  - host: ghcr.io\n    username: bot\n    password: s3cret\n");
    assertEquals(Optional.of(new Credentials("bot", "s3cret")), CredentialSources.load(null, Map.of()).forUpstream(ghcr));
  }

  @Test
  void thePasswordFromTheEnvironmentVariablePasswordEnvNames() throws Exception {
    CisternConfig.UpstreamConfig ghcr = upstream("  - host: ghcr.io\n    username: bot\n    passwordEnv: GHCR_TOKEN\n");
    assertEquals(Optional.of(new Credentials("bot", "ghp_123")),
        CredentialSources.load(null, Map.of("GHCR_TOKEN", "ghp_123")).forUpstream(ghcr));
    ConfigException unset = assertThrows(ConfigException.class, () -> CredentialSources.load(null, Map.of()).forUpstream(ghcr));
    assertTrue(unset.getMessage().contains("GHCR_TOKEN"), unset.getMessage());
  }

  @Test
  void theGenericEnvironmentOverrideSetsAPasswordToo() throws Exception {
    Path file = Files.writeString(temp.resolve("cistern.yml"), "upstreams:\n  - host: quay.io\n    username: robot\n");
    CisternConfig config = new ConfigLoader().load(file, Map.of("CISTERN_UPSTREAMS_0_PASSWORD", "from-env"));
    assertEquals(Optional.of(new Credentials("robot", "from-env")),
        CredentialSources.load(null, Map.of()).forUpstream(config.upstreams().get(0)));
  }

  @Test
  void dockerConfigAuthsGiveCredentialsByHostInEitherForm() throws Exception {
    Path json = dockerConfig("""
        {"auths": {
          "https://index.docker.io/v1/": {"auth": "%s"},
          "quay.io": {"username": "robot", "password": "pw2"},
          "https://registry.corp:5000": {"auth": "%s"},
          "ghcr.io": {}
        }, "credsStore": "desktop"}
        """.formatted(base64("hubuser:hub:pw"), base64("corp:pw3")));
    CredentialSources sources = CredentialSources.load(json, Map.of());
    assertEquals(Optional.of(new Credentials("hubuser", "hub:pw")),
        sources.forUpstream(upstream("  - host: docker.io\n    url: https://registry-1.docker.io\n")),
        "Docker Hub's auths key is index.docker.io; a password may hold a colon");
    assertEquals(Optional.of(new Credentials("robot", "pw2")), sources.forUpstream(upstream("  - host: quay.io\n")));
    assertEquals(Optional.of(new Credentials("corp", "pw3")), sources.forUpstream(upstream("  - host: registry.corp:5000\n")));
    assertEquals(Optional.of(new Credentials("corp", "pw3")),
        sources.forUpstream(upstream("  - host: corp\n    url: https://registry.corp:5000\n")), "matched by the url's host too");
    assertEquals(Optional.empty(), sources.forUpstream(upstream("  - host: ghcr.io\n")), "an empty entry (a helper's) is anonymous");
    assertEquals(Optional.empty(), sources.forUpstream(upstream("  - host: registry.k8s.io\n")));
  }

  @Test
  void theConfigurationWinsOverTheDockerConfig() throws Exception {
    Path json = dockerConfig("{\"auths\": {\"quay.io\": {\"auth\": \"%s\"}}}".formatted(base64("old:pw")));
    CisternConfig.UpstreamConfig quay = upstream("  - host: quay.io\n    username: new\n    password: pw\n");
    assertEquals(Optional.of(new Credentials("new", "pw")), CredentialSources.load(json, Map.of()).forUpstream(quay));
  }

  @Test
  void mistakesAreClearConfigErrors() throws Exception {
    CredentialSources none = CredentialSources.load(null, Map.of("P", "x"));
    assertThrows(ConfigException.class, () -> none.forUpstream(upstream("  - host: a.io\n    username: u\n")));
    assertThrows(ConfigException.class, () -> none.forUpstream(upstream("  - host: a.io\n    password: p\n")));
    assertThrows(ConfigException.class, () -> none.forUpstream(upstream("  - host: a.io\n    username: u\n    password: p\n    passwordEnv: P\n")));
    assertThrows(ConfigException.class, () -> CredentialSources.load(temp.resolve("missing.json"), Map.of()));
    assertThrows(ConfigException.class, () -> CredentialSources.load(dockerConfig("{\"auths\": {\"a.io\": {\"auth\": \"!!\"}}}"), Map.of()));
    ConfigException noColon = assertThrows(ConfigException.class,
        () -> CredentialSources.load(dockerConfig("{\"auths\": {\"a.io\": {\"auth\": \"%s\"}}}".formatted(base64("nocolon"))), Map.of()));
    assertTrue(noColon.getMessage().contains("a.io"), noColon.getMessage());
  }

  @Test
  void registryKeysFoldSchemesPathsCaseAndDockerHubAliases() {
    assertEquals("docker.io", CredentialSources.registryKey("https://index.docker.io/v1/"));
    assertEquals("docker.io", CredentialSources.registryKey("registry-1.docker.io"));
    assertEquals("ghcr.io", CredentialSources.registryKey("GHCR.io"));
    assertEquals("registry.corp:5000", CredentialSources.registryKey("http://registry.corp:5000/v2/"));
  }

  @Test
  void theConfigurationNeverPrintsAPassword() throws Exception {
    CisternConfig.UpstreamConfig ghcr = upstream("  - host: ghcr.io\n    username: bot\n    password: s3cret\n");
    assertEquals(-1, ghcr.toString().indexOf("s3cret"));
    assertEquals(-1, new Credentials("bot", "s3cret").toString().indexOf("s3cret"));
  }
}
