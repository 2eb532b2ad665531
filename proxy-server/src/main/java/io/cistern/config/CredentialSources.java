package io.cistern.config;

import com.fasterxml.jackson.databind.JsonNode;
import io.cistern.oci.Json;
import io.cistern.upstream.Credentials;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Base64;
import java.util.HashMap;
import java.util.Iterator;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Where an upstream's credentials come from; the first source that has them wins:
 * <ol>
 *   <li>the upstream's {@code username} with its {@code password}, or with {@code passwordEnv},
 *       the name of an environment variable holding the password (a token, typically);
 *   <li>the {@code auths} entry for the upstream's host in the docker {@code config.json} named by
 *       {@code dockerConfig}, as {@code docker login} writes it: a base64 {@code auth} of
 *       {@code user:password}, or {@code username} and {@code password}.
 * </ol>
 * Docker's credential helpers ({@code credsStore}, {@code credHelpers}) and identity tokens are
 * not read: they need programs or an OAuth flow Cistern does not run. An upstream with no
 * credentials pulls anonymously.
 */
public final class CredentialSources {

  private static final Logger log = LoggerFactory.getLogger(CredentialSources.class);
  /** The names Docker Hub goes by in {@code auths} ({@code docker login} writes the first). */
  private static final Set<String> DOCKER_HUB_ALIASES =
      Set.of("index.docker.io", "registry-1.docker.io", "registry.hub.docker.com", "docker.io");

  private final Map<String, String> environment;
  private final Map<String, Credentials> dockerAuths;

  private CredentialSources(Map<String, String> environment, Map<String, Credentials> dockerAuths) {
    this.environment = environment;
    this.dockerAuths = dockerAuths;
  }

  /**
   * @param dockerConfig a docker {@code config.json}, or null for none
   * @throws ConfigException when the file cannot be read or an entry is malformed
   */
  public static CredentialSources load(Path dockerConfig, Map<String, String> environment) {
    return new CredentialSources(Map.copyOf(environment), dockerConfig == null ? Map.of() : readAuths(dockerConfig));
  }

  /** The upstream's credentials, if any source has them. */
  public Optional<Credentials> forUpstream(CisternConfig.UpstreamConfig upstream) {
    String host = upstream.host();
    if (upstream.username() != null || upstream.password() != null || upstream.passwordEnv() != null) {
      if (upstream.password() != null && upstream.passwordEnv() != null) {
        throw new ConfigException("upstream " + host + " has both password and passwordEnv: give one");
      }
      String password = upstream.password();
      if (upstream.passwordEnv() != null) {
        password = environment.get(upstream.passwordEnv());
        if (password == null) {
          throw new ConfigException("upstream " + host + " takes its password from the environment variable "
              + upstream.passwordEnv() + ", which is not set");
        }
      }
      if (upstream.username() == null || password == null) {
        throw new ConfigException("upstream " + host + " needs both a username and a password (or passwordEnv)");
      }
      return Optional.of(new Credentials(upstream.username(), password));
    }
    Credentials byHost = dockerAuths.get(registryKey(host));
    if (byHost != null) {
      return Optional.of(byHost);
    }
    return Optional.ofNullable(upstream.effectiveUrl().getAuthority())
        .map(authority -> dockerAuths.get(registryKey(authority)));
  }

  private static Map<String, Credentials> readAuths(Path file) {
    JsonNode root;
    try {
      root = Json.tree(Files.readAllBytes(file));
    } catch (IOException e) {
      throw new ConfigException("cannot read the docker config " + file + ": " + e.getMessage());
    }
    if (root.has("credsStore") || root.has("credHelpers")) {
      log.warn("{} names docker credential helpers; Cistern reads only the credentials stored in its auths", file);
    }
    Map<String, Credentials> auths = new HashMap<>();
    Iterator<Map.Entry<String, JsonNode>> entries = root.path("auths").fields();
    while (entries.hasNext()) {
      Map.Entry<String, JsonNode> entry = entries.next();
      entryCredentials(file, entry.getKey(), entry.getValue())
          .ifPresent(credentials -> auths.put(registryKey(entry.getKey()), credentials));
    }
    return auths;
  }

  private static Optional<Credentials> entryCredentials(Path file, String registry, JsonNode entry) {
    String auth = entry.path("auth").asText("");
    if (!auth.isEmpty()) {
      String pair;
      try {
        pair = new String(Base64.getDecoder().decode(auth.trim()), StandardCharsets.UTF_8);
      } catch (IllegalArgumentException e) {
        throw new ConfigException("the auth of " + registry + " in " + file + " is not base64");
      }
      int colon = pair.indexOf(':');
      if (colon < 0) {
        throw new ConfigException("the auth of " + registry + " in " + file + " is not base64 of user:password");
      }
      return Optional.of(new Credentials(pair.substring(0, colon), pair.substring(colon + 1)));
    }
    String username = entry.path("username").asText("");
    String password = entry.path("password").asText("");
    if (!username.isEmpty() && !password.isEmpty()) {
      return Optional.of(new Credentials(username, password));
    }
    if (entry.has("identitytoken")) {
      log.warn("the entry for {} in {} holds an identity token, which Cistern cannot use; ignored", registry, file);
    }
    return Optional.empty();
  }

  /**
   * The host an {@code auths} key or an upstream names, as one comparable key: scheme and path
   * dropped ({@code https://index.docker.io/v1/} is Docker Hub), lower case, Docker Hub's aliases
   * folded into {@code docker.io}.
   */
  static String registryKey(String name) {
    String text = name.trim().toLowerCase(Locale.ROOT);
    int scheme = text.indexOf("://");
    String host = scheme >= 0 ? text.substring(scheme + 3) : text;
    int slash = host.indexOf('/');
    if (slash >= 0) {
      host = host.substring(0, slash);
    }
    return DOCKER_HUB_ALIASES.contains(host) ? "docker.io" : host;
  }
}
