package io.cistern.cli;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.cistern.cache.CacheDirectory;
import io.cistern.cache.CacheSettings;
import io.cistern.testing.CisternCli;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** How the command treats its configuration: mistakes are one line and exit code 2; its environment is the one it is given. */
class CliConfigurationTest {

  @TempDir
  Path temp;

  @Test
  void serveWithAnUpstreamUrlWithoutSchemeStopsInOneLineBeforeOpeningTheCache() throws Exception {
    Path cache = temp.resolve("cache");
    CisternCli cli = CisternCli.forCache(temp.resolve("cistern.yml"), cache, 0, """
        upstreams:
          - host: registry.corp.example
            url: registry.corp.example
        """);
    CisternCli.Run serve = cli.run("serve");
    assertEquals(2, serve.exitCode(), serve.err());
    assertEquals(1, serve.err().lines().count(), serve.err());
    assertTrue(serve.err().contains("upstreams[0]") && serve.err().contains("https://registry.corp.example"), serve.err());
    assertFalse(Files.exists(cache), "nothing was opened");
    assertEquals(2, cli.run("ls").exitCode(), "every command checks the configuration alike");
  }

  @Test
  void serveWithAMalformedHtpasswdHashIsAConfigurationErrorNotACrash() throws Exception {
    Path cache = temp.resolve("cache");
    Path users = temp.resolve("users.htpasswd");
    Files.writeString(users, "alice:$2y$99$" + "a".repeat(53) + "\n");
    CisternCli cli = CisternCli.forCache(temp.resolve("cistern.yml"), cache, 0, """
        security:
          auth:
            htpasswd: %s
        """.formatted(users));
    assertEquals(2, cli.run("serve").exitCode());
    assertFalse(Files.exists(cache), "nothing was opened");
  }

  @Test
  void operatorsCommandsReadPasswordsFromTheEnvironmentTheyAreGiven() throws Exception {
    Path cache = temp.resolve("cache");
    CacheDirectory.open(CacheSettings.defaults(cache, 1L << 30), Clock.systemUTC()).close();
    CisternCli cli = CisternCli.forCache(temp.resolve("cistern.yml"), cache, 0, """
        upstreams:
          - host: registry.corp.example
            username: bot
            passwordEnv: CORP_REGISTRY_TOKEN
        """);
    CisternCli.Run listed = cli.runWith(Map.of("CORP_REGISTRY_TOKEN", "from-the-given-environment"), "ls");
    assertEquals(0, listed.exitCode(), listed.err());
    assertTrue(listed.out().contains("nothing cached"), listed.out());
  }
}
