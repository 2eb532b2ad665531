package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.MappingIterator;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import io.cistern.config.CisternConfig;
import io.cistern.config.ConfigLoader;
import io.cistern.upstream.Mirror;
import io.cistern.upstream.UpstreamSettings;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The files under {@code docker/} and {@code deploy/} are code an operator runs without reading:
 * each must parse, and agree with Cistern's defaults, its image and its documentation.
 */
class DeploymentFilesTest {

  private static final ObjectMapper YAML = new YAMLMapper();
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path ROOT = repositoryRoot();
  private static final CisternConfig DEFAULTS = new ConfigLoader().load(null, Map.of());
  private static final Set<String> MIRRORED = Set.of("docker.io", "ghcr.io", "quay.io", "registry.k8s.io");
  private static final String CACHE_MOUNT = "/var/lib/cistern";
  private static final String CONFIG_FILE = "/etc/cistern/cistern.yml";

  @TempDir
  Path temp;

  @Test
  void everyYamlFileParsesAndEveryKubernetesObjectIsWellFormed() throws Exception {
    List<Path> files = files("deploy", "docker").stream()
        .filter(file -> file.toString().endsWith(".yaml") || file.toString().endsWith(".yml")).toList();
    assertTrue(files.size() >= 5, "the compose file and the Kubernetes manifests: " + files);
    for (Path file : files) {
      List<JsonNode> documents = documents(file);
      assertFalse(documents.isEmpty(), file + " has no document");
      for (JsonNode document : documents) {
        if (file.startsWith(ROOT.resolve("deploy/kubernetes"))) {
          assertFalse(document.path("apiVersion").asText().isEmpty(), file + ": apiVersion");
          assertFalse(document.path("kind").asText().isEmpty(), file + ": kind");
          assertFalse(document.path("metadata").path("name").asText().isEmpty(), file + ": metadata.name");
        }
      }
    }
  }

  @Test
  void theKubernetesRecipesRunCisternOnItsDefaultPortsWithProbesOnTheAdminListener() throws Exception {
    Map<String, JsonNode> workloads = Map.of(
        "site-cache.yaml", only(kubernetes("site-cache.yaml"), "Deployment"),
        "node-cache.yaml", only(kubernetes("node-cache.yaml"), "DaemonSet"),
        "sidecar.yaml", only(kubernetes("sidecar.yaml"), "Deployment"),
        "cluster.yaml", only(kubernetes("cluster.yaml"), "Deployment"));
    for (Map.Entry<String, JsonNode> workload : workloads.entrySet()) {
      String name = workload.getKey();
      JsonNode pod = workload.getValue().path("spec").path("template").path("spec");
      JsonNode cistern = container(pod, "cistern");
      assertEquals(DEFAULTS.server().port(), port(cistern, "registry").path("containerPort").asInt(), name);
      assertEquals(DEFAULTS.admin().port(), port(cistern, "admin").path("containerPort").asInt(), name);
      assertEquals("/readyz", cistern.path("readinessProbe").path("httpGet").path("path").asText(), name);
      assertEquals("admin", cistern.path("readinessProbe").path("httpGet").path("port").asText(), name);
      assertEquals("/healthz", cistern.path("livenessProbe").path("httpGet").path("path").asText(), name);
      assertEquals("admin", cistern.path("livenessProbe").path("httpGet").path("port").asText(), name);
      assertEquals(List.of("serve", "--config", CONFIG_FILE), strings(cistern.path("args")), name);
      assertEquals("cistern-config", volume(pod, mount(cistern, "/etc/cistern")).path("configMap").path("name").asText(), name);
      assertFalse(volume(pod, mount(cistern, CACHE_MOUNT)).isMissingNode(), name + ": the cache is a volume");
      long user = cistern.path("securityContext").path("runAsUser").asLong(pod.path("securityContext").path("runAsUser").asLong());
      assertEquals(dockerfileUser(), user, name + " runs as the image's user");
      assertTrue(pod.path("terminationGracePeriodSeconds").asLong() > DEFAULTS.shutdown().grace().toSeconds(),
          name + " gives the shutdown grace time to run");
      JsonNode adminToken = env(cistern, "CISTERN_ADMIN_TOKEN").path("valueFrom").path("secretKeyRef");
      assertEquals("cistern-admin", adminToken.path("name").asText(), name + ": the admin API's token comes from a Secret");
      assertEquals("token", adminToken.path("key").asText(), name);
      assertFalse(pod.path("enableServiceLinks").asBoolean(true), name + ": no CISTERN_* service-link variables in the pod");
    }

    JsonNode daemonSet = workloads.get("node-cache.yaml");
    JsonNode registry = port(container(daemonSet.path("spec").path("template").path("spec"), "cistern"), "registry");
    assertEquals(hostsTomlPort(), registry.path("hostPort").asInt(), "containerd's hosts.toml names the hostPort");
    assertEquals("127.0.0.1", registry.path("hostIP").asText());

    List<JsonNode> site = kubernetes("site-cache.yaml");
    JsonNode service = only(site, "Service");
    Set<Integer> servicePorts = new TreeSet<>();
    service.path("spec").path("ports").forEach(port -> servicePorts.add(port.path("port").asInt()));
    assertEquals(new TreeSet<>(List.of(DEFAULTS.server().port(), DEFAULTS.admin().port())), servicePorts);
    JsonNode deployment = workloads.get("site-cache.yaml");
    assertEquals(deployment.path("spec").path("selector").path("matchLabels"), service.path("spec").path("selector"),
        "the Service selects the Deployment's pods");
    JsonNode claim = only(site, "PersistentVolumeClaim");
    JsonNode pod = deployment.path("spec").path("template").path("spec");
    assertEquals(claim.path("metadata").path("name").asText(),
        volume(pod, mount(container(pod, "cistern"), CACHE_MOUNT)).path("persistentVolumeClaim").path("claimName").asText());
    assertTrue(configMapConfig().cache().maxBytes().bytes() < quantity(claim.path("spec").path("resources").path("requests").path("storage").asText()),
        "the byte cap leaves room on the volume");
  }

  @Test
  void prometheusFindsEveryRecipesMetricsOnTheAdminPort() throws Exception {
    Map<String, JsonNode> workloads = Map.of(
        "site-cache.yaml", only(kubernetes("site-cache.yaml"), "Deployment"),
        "node-cache.yaml", only(kubernetes("node-cache.yaml"), "DaemonSet"),
        "sidecar.yaml", only(kubernetes("sidecar.yaml"), "Deployment"));
    for (Map.Entry<String, JsonNode> workload : workloads.entrySet()) {
      JsonNode template = workload.getValue().path("spec").path("template");
      JsonNode annotations = template.path("metadata").path("annotations");
      JsonNode admin = port(container(template.path("spec"), "cistern"), "admin");
      String name = workload.getKey();
      assertEquals("true", annotations.path("prometheus.io/scrape").asText(), name);
      assertEquals(admin.path("containerPort").asText(), annotations.path("prometheus.io/port").asText(), name);
      assertEquals("/metrics", annotations.path("prometheus.io/path").asText(), name);
    }

    List<JsonNode> monitors = kubernetes("servicemonitor.yaml");
    JsonNode service = only(kubernetes("site-cache.yaml"), "Service");
    JsonNode serviceMonitor = only(monitors, "ServiceMonitor");
    assertTrue(matches(serviceMonitor.path("spec").path("selector").path("matchLabels"), service.path("metadata").path("labels")),
        "the ServiceMonitor selects the site cache's Service");
    JsonNode endpoint = serviceMonitor.path("spec").path("endpoints").path(0);
    assertEquals("/metrics", endpoint.path("path").asText());
    JsonNode servicePort = null;
    for (JsonNode port : service.path("spec").path("ports")) {
      if (port.path("name").asText().equals(endpoint.path("port").asText())) {
        servicePort = port;
      }
    }
    assertTrue(servicePort != null, "the ServiceMonitor's port " + endpoint.path("port") + " is one the Service names");
    assertEquals("admin", servicePort.path("targetPort").asText(), "and leads to the container's admin port");

    JsonNode nodePods = workloads.get("node-cache.yaml").path("spec").path("template");
    JsonNode podMonitor = only(monitors, "PodMonitor");
    assertTrue(matches(podMonitor.path("spec").path("selector").path("matchLabels"), nodePods.path("metadata").path("labels")),
        "the PodMonitor selects the node caches' pods");
    JsonNode podEndpoint = podMonitor.path("spec").path("podMetricsEndpoints").path(0);
    assertEquals("/metrics", podEndpoint.path("path").asText());
    assertEquals(DEFAULTS.admin().port(),
        port(container(nodePods.path("spec"), "cistern"), podEndpoint.path("port").asText()).path("containerPort").asInt());
  }

  /** Whether every label {@code selector} asks for is among {@code labels}. */
  private static boolean matches(JsonNode selector, JsonNode labels) {
    boolean all = !selector.isEmpty();
    for (Map.Entry<String, JsonNode> entry : selector.properties()) {
      all &= entry.getValue().asText().equals(labels.path(entry.getKey()).asText(null));
    }
    return all;
  }

  @Test
  void theClusterRecipeFindsItsMembersThroughAHeadlessServiceAndTakesItsSecretsFromSecrets() throws Exception {
    List<JsonNode> documents = kubernetes("cluster.yaml");
    String text = Files.readString(ROOT.resolve("deploy/kubernetes/cluster.yaml"));
    JsonNode deployment = only(documents, "Deployment");
    JsonNode pods = deployment.path("spec").path("selector").path("matchLabels");
    JsonNode pod = deployment.path("spec").path("template").path("spec");
    JsonNode cistern = container(pod, "cistern");
    int replicas = deployment.path("spec").path("replicas").asInt();
    assertTrue(replicas >= 3, "a cluster of at least three members: " + replicas);

    List<JsonNode> services = documents.stream().filter(document -> document.path("kind").asText().equals("Service")).toList();
    JsonNode members = services.stream().filter(service -> service.path("spec").path("clusterIP").asText().equals("None"))
        .findFirst().orElseThrow(() -> new AssertionError("a headless Service for the members"));
    JsonNode clients = services.stream().filter(service -> service != members).findFirst()
        .orElseThrow(() -> new AssertionError("a Service for the clients"));
    assertEquals(pods, members.path("spec").path("selector"), "the headless Service resolves to the members");
    assertEquals(pods, clients.path("spec").path("selector"), "clients reach any member");
    assertEquals(DEFAULTS.server().port(), members.path("spec").path("ports").path(0).path("port").asInt());
    assertEquals("registry", members.path("spec").path("ports").path(0).path("targetPort").asText());

    JsonNode budget = only(documents, "PodDisruptionBudget");
    assertEquals(pods, budget.path("spec").path("selector").path("matchLabels"), "the budget covers the members");
    assertEquals(1, budget.path("spec").path("maxUnavailable").asInt(), "drains take one member at a time");

    // The pod's environment as the kubelet makes it: secrets stand for themselves, $(VAR) expanded.
    Map<String, String> environment = new TreeMap<>();
    Set<String> secretsNeeded = new TreeSet<>();
    for (JsonNode variable : cistern.path("env")) {
      String name = variable.path("name").asText();
      JsonNode from = variable.path("valueFrom");
      if (from.has("secretKeyRef")) {
        JsonNode secret = from.path("secretKeyRef");
        environment.put(name, "secret:" + secret.path("name").asText() + "/" + secret.path("key").asText());
        if (!secret.path("optional").asBoolean(false)) {
          secretsNeeded.add(secret.path("name").asText());
        }
      } else if (from.has("fieldRef")) {
        assertEquals("status.podIP", from.path("fieldRef").path("fieldPath").asText(), name);
        environment.put(name, "10.1.2.3");
      } else {
        environment.put(name, expand(variable.path("value").asText(), environment));
      }
    }
    for (String secret : secretsNeeded) {
      assertTrue(text.contains("kubectl create secret generic " + secret + " "), "the recipe says how to make the Secret " + secret);
    }
    assertEquals("secret:cistern-cluster/token", environment.get("CISTERN_CLUSTER_TOKEN"), "the members' token comes from a Secret");

    JsonNode defaults = YAML.readTree(DeploymentFilesTest.class.getResourceAsStream("/cistern-defaults.yaml"));
    for (String name : environment.keySet()) {
      if (name.startsWith("CISTERN_")) {
        assertTrue(isConfigurationKey(defaults, name.substring("CISTERN_".length()).toLowerCase(Locale.ROOT).split("_")),
            name + " names a configuration key");
      }
    }
    Path file = temp.resolve("cistern.yml");
    Files.writeString(file, only(kubernetes("configmap.yaml"), "ConfigMap").path("data").path("cistern.yml").asText());
    CisternConfig config = new ConfigLoader().load(file, environment);

    assertEquals(members.path("metadata").path("name").asText(), property(config, "cluster", "service"),
        "cluster.service names the headless Service");
    assertEquals(members.path("spec").path("ports").path(0).path("port").asInt(), ((Number) property(config, "cluster", "servicePort")).intValue());
    assertEquals("http://10.1.2.3:" + config.server().port(), String.valueOf(property(config, "cluster", "self")),
        "a member's own URL is its pod's IP on the registry port, as the Service resolves it");
    assertEquals("secret:cistern-cluster/token", property(config, "cluster", "token"));
    assertFalse(String.valueOf(property(config, "bucket", "name")).isBlank(), "a bucket");
    assertEquals("secret:cistern-bucket/accessKeyId", property(config, "bucket", "accessKeyId"));
    String secretVariable = String.valueOf(property(config, "bucket", "secretAccessKeyEnv"));
    assertEquals("secret:cistern-bucket/secretAccessKey", environment.get(secretVariable),
        "bucket.secretAccessKeyEnv names a variable the pod takes from the Secret");
    assertFalse(secretVariable.startsWith("CISTERN_"), "a CISTERN_ name would be read as a configuration key");

    JsonNode cache = volume(pod, mount(cistern, CACHE_MOUNT));
    assertTrue(config.cache().maxBytes().bytes() < quantity(cache.path("emptyDir").path("sizeLimit").asText()),
        "the local tier's cap stays below its volume's size limit, which the kubelet enforces by eviction");

    JsonNode resources = cistern.path("resources");
    long limit = quantity(resources.path("limits").path("memory").asText());
    long request = quantity(resources.path("requests").path("memory").asText());
    assertTrue(request <= limit, "the memory request fits its limit");
    assertTrue(limit > jvmOption("-Xmx") + jvmOption("-XX:MaxDirectMemorySize="),
        "the memory limit leaves room for the heap and direct buffers scripts/jvm-options allow, and more");
  }

  /** {@code $(NAME)} replaced by the value of an earlier variable, as the kubelet does. */
  private static String expand(String value, Map<String, String> earlier) {
    Matcher reference = Pattern.compile("\\$\\(([A-Za-z_][A-Za-z0-9_]*)\\)").matcher(value);
    StringBuilder expanded = new StringBuilder();
    while (reference.find()) {
      reference.appendReplacement(expanded, Matcher.quoteReplacement(earlier.getOrDefault(reference.group(1), reference.group())));
    }
    return reference.appendTail(expanded).toString();
  }

  /** Whether {@code path} (a CISTERN_ variable's segments) leads to a key of the defaults, which list every key. */
  private static boolean isConfigurationKey(JsonNode defaults, String[] path) {
    JsonNode node = defaults;
    for (String segment : path) {
      JsonNode next = null;
      for (Iterator<String> names = node.fieldNames(); names.hasNext(); ) {
        String name = names.next();
        if (name.equalsIgnoreCase(segment)) {
          next = node.get(name);
        }
      }
      if (next == null) {
        return false;
      }
      node = next;
    }
    return true;
  }

  /** A value of the configuration by its keys' names ({@code cluster}, {@code service}), read through the records' accessors. */
  private static Object property(Object config, String... path) {
    Object value = config;
    for (String name : path) {
      try {
        value = value.getClass().getMethod(name).invoke(value);
      } catch (ReflectiveOperationException e) {
        throw new AssertionError("the configuration has no " + String.join(".", path), e);
      }
    }
    return value;
  }

  /** The bytes a size option of scripts/jvm-options gives ({@code -Xmx512m}). */
  private static long jvmOption(String prefix) throws IOException {
    String option = Arrays.stream(Files.readString(ROOT.resolve("scripts/jvm-options")).trim().split("\\s+"))
        .filter(each -> each.startsWith(prefix)).findFirst().orElseThrow(() -> new AssertionError("scripts/jvm-options sets " + prefix));
    Matcher size = Pattern.compile("(\\d+)([kmg])").matcher(option.substring(prefix.length()).toLowerCase(Locale.ROOT));
    assertTrue(size.matches(), option);
    return Long.parseLong(size.group(1)) << switch (size.group(2)) {
      case "k" -> 10;
      case "m" -> 20;
      default -> 30;
    };
  }

  @Test
  void theConfigMapCarriesAConfigurationCisternAcceptsForEveryMirroredRegistry() throws Exception {
    CisternConfig config = configMapConfig();
    assertEquals(Path.of(CACHE_MOUNT), config.cache().directory(), "the cache is where the volume is mounted");
    assertEquals(DEFAULTS.server().port(), config.server().port());
    assertEquals(DEFAULTS.admin().port(), config.admin().port());
    Set<String> hosts = config.upstreams().stream().map(CisternConfig.UpstreamConfig::host).collect(Collectors.toSet());
    assertEquals(MIRRORED, hosts);
    assertEquals("docker.io", config.defaultUpstream(), "docker daemons' mirrors name no upstream");
  }

  @Test
  void nodeCachesBehindTheSiteCacheAskTheSiteForEveryRegistryByItsName() throws Exception {
    CisternConfig node = config(only(kubernetes("node-behind-site.yaml"), "ConfigMap"));
    Settings settings = Settings.of(node);
    JsonNode service = only(kubernetes("site-cache.yaml"), "Service");
    String site = "http://" + service.path("metadata").path("name").asText() + ".cistern.svc:"
        + service.path("spec").path("ports").get(0).path("port").asInt();
    assertEquals(MIRRORED, node.upstreams().stream().map(CisternConfig.UpstreamConfig::host).collect(Collectors.toSet()),
        "every registry the site mirrors");
    for (UpstreamSettings upstream : settings.upstreams()) {
      assertEquals(Mirror.NS, upstream.mirror(), upstream.host());
      assertEquals(site, upstream.url().toString(), upstream.host() + " is asked of the site's Service");
    }
    assertEquals(Path.of(CACHE_MOUNT), node.cache().directory());
    assertEquals("docker.io", node.defaultUpstream());
  }

  @Test
  void containerdHostsFilesSendEachRegistryToTheNodeCacheAndFallBackToTheRegistry() throws Exception {
    Path certs = ROOT.resolve("deploy/containerd/certs.d");
    Set<String> registries = new TreeSet<>();
    try (Stream<Path> entries = Files.list(certs)) {
      entries.forEach(entry -> registries.add(entry.getFileName().toString()));
    }
    assertEquals(new TreeSet<>(MIRRORED), registries);
    for (String registry : registries) {
      String toml = Files.readString(certs.resolve(registry).resolve("hosts.toml"));
      String server = registry.equals("docker.io") ? "https://registry-1.docker.io" : "https://" + registry;
      assertTrue(toml.contains("\nserver = \"" + server + "\"\n"), registry + ": falls back to " + server);
      assertTrue(toml.contains("\n[host.\"http://127.0.0.1:" + DEFAULTS.server().port() + "\"]\n"), registry);
      assertTrue(toml.contains("capabilities = [\"pull\", \"resolve\"]"), registry);
    }
  }

  @Test
  void theDockerAndPodmanExamplesPointAtCisternsPort() throws Exception {
    JsonNode daemon = JSON.readTree(ROOT.resolve("deploy/docker/daemon.json").toFile());
    String mirror = daemon.path("registry-mirrors").path(0).asText();
    assertTrue(mirror.endsWith(":" + DEFAULTS.server().port()), mirror);

    String registriesConf = Files.readString(ROOT.resolve("deploy/podman/registries.conf"));
    for (String registry : MIRRORED) {
      Pattern mirrorLine = Pattern.compile("\\nlocation = \"[a-z0-9.-]+:" + DEFAULTS.server().port() + "/" + Pattern.quote(registry) + "\"\\n");
      assertTrue(mirrorLine.matcher(registriesConf).find(), "a path-prefix mirror for " + registry);
      assertTrue(registriesConf.contains("\nprefix = \"" + registry + "\"\n"), registry);
    }
  }

  @Test
  void theComposeFileBuildsTheImageAndRunsItAsADockerHubMirror() throws Exception {
    JsonNode cistern = documents(ROOT.resolve("docker/compose.yml")).get(0).path("services").path("cistern");
    assertEquals("..", cistern.path("build").path("context").asText());
    assertEquals("docker/Dockerfile", cistern.path("build").path("dockerfile").asText());
    assertTrue(strings(cistern.path("ports")).contains(DEFAULTS.server().port() + ":" + DEFAULTS.server().port()));
    assertTrue(strings(cistern.path("ports")).stream().anyMatch(port -> port.endsWith(":" + DEFAULTS.admin().port())));
    assertTrue(strings(cistern.path("volumes")).stream().anyMatch(volume -> volume.endsWith(":" + CACHE_MOUNT)));
    assertFalse(cistern.path("environment").has("CISTERN_UPSTREAMS_0_HOST"), "Docker Hub stays the default upstream");
  }

  @Test
  void theDockerfileBuildsWithTheReadmeCommandAndRunsUnprivilegedWithAVolumeAndAHealthCheck() throws Exception {
    String build = mavenCommand();
    assertTrue(Files.readString(ROOT.resolve("README.md")).contains("`" + build + "`"), "the README names the command");
    List<String> lines = dockerfileInstructions();
    int runtime = -1;
    boolean builds = false;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.startsWith("FROM ") && runtime < 0 && i > 0) {
        runtime = i;
      }
      if (runtime < 0 && line.startsWith("RUN ") && line.endsWith(" " + build)) {
        builds = true;
      }
    }
    assertTrue(lines.get(0).matches("FROM \\S+ AS build"), "a build stage first: " + lines.get(0));
    assertTrue(builds, "the build stage runs '" + build + "'");
    List<String> image = lines.subList(runtime, lines.size());
    assertTrue(image.get(0).contains("jre") && image.get(0).contains("17"), "a JRE 17 runtime: " + image.get(0));
    assertTrue(image.contains("COPY --from=build /src/proxy-server/target/cistern.jar /opt/cistern/cistern.jar"));
    assertNotEquals(0, dockerfileUser(), "runs as a non-root user");
    assertTrue(image.contains("VOLUME " + CACHE_MOUNT));
    assertTrue(image.contains("ENV CISTERN_CACHE_DIRECTORY=" + CACHE_MOUNT), "the cache is in the volume");
    assertTrue(image.contains("EXPOSE " + DEFAULTS.server().port() + " " + DEFAULTS.admin().port()));
    String health = image.stream().filter(line -> line.startsWith("HEALTHCHECK ")).findFirst().orElseThrow();
    assertTrue(health.contains("/dev/tcp/127.0.0.1/" + DEFAULTS.admin().port()) && health.contains("GET /healthz"), health);
  }

  @Test
  void theReadmesProductionSectionNamesEveryFileAndWhenToUseIt() throws Exception {
    String readme = Files.readString(ROOT.resolve("README.md"));
    int start = readme.indexOf("\n## Running in production\n");
    assertTrue(start >= 0, "a 'Running in production' section");
    int end = readme.indexOf("\n## ", start + 1);
    String section = readme.substring(start, end < 0 ? readme.length() : end);
    for (Path file : files("deploy", "docker")) {
      String relative = ROOT.relativize(file).toString();
      assertTrue(section.contains("(" + relative + ")"), "the README links " + relative);
    }
    for (String when : List.of("site cache", "node cache", "sidecar", "cluster")) {
      assertTrue(section.contains(when), "the README says when to use the " + when);
    }
  }

  // ---- reading the files ----

  private CisternConfig configMapConfig() throws IOException {
    return config(only(kubernetes("configmap.yaml"), "ConfigMap"));
  }

  private CisternConfig config(JsonNode configMap) throws IOException {
    Path file = Files.createTempFile(temp, "cistern", ".yml");
    Files.writeString(file, configMap.path("data").path("cistern.yml").asText());
    return new ConfigLoader().load(file, Map.of());
  }

  private static List<JsonNode> kubernetes(String name) throws IOException {
    return documents(ROOT.resolve("deploy/kubernetes").resolve(name));
  }

  private static List<JsonNode> documents(Path file) throws IOException {
    List<JsonNode> documents = new ArrayList<>();
    try (MappingIterator<JsonNode> iterator = YAML.readerFor(JsonNode.class).readValues(file.toFile())) {
      while (iterator.hasNext()) {
        JsonNode document = iterator.next();
        if (document != null && !document.isNull() && !document.isMissingNode()) {
          documents.add(document);
        }
      }
    }
    return documents;
  }

  private static JsonNode only(List<JsonNode> documents, String kind) {
    List<JsonNode> ofKind = documents.stream().filter(document -> document.path("kind").asText().equals(kind)).toList();
    assertEquals(1, ofKind.size(), "one " + kind);
    return ofKind.get(0);
  }

  private static JsonNode container(JsonNode pod, String name) {
    for (JsonNode container : pod.path("containers")) {
      if (container.path("name").asText().equals(name)) {
        return container;
      }
    }
    throw new AssertionError("no container " + name);
  }

  private static JsonNode env(JsonNode container, String name) {
    for (JsonNode variable : container.path("env")) {
      if (variable.path("name").asText().equals(name)) {
        return variable;
      }
    }
    throw new AssertionError("no environment variable " + name);
  }

  private static JsonNode port(JsonNode container, String name) {
    for (JsonNode port : container.path("ports")) {
      if (port.path("name").asText().equals(name)) {
        return port;
      }
    }
    throw new AssertionError("no port named " + name);
  }

  private static String mount(JsonNode container, String path) {
    for (JsonNode mount : container.path("volumeMounts")) {
      if (mount.path("mountPath").asText().equals(path)) {
        return mount.path("name").asText();
      }
    }
    throw new AssertionError("nothing mounted at " + path);
  }

  private static JsonNode volume(JsonNode pod, String name) {
    for (JsonNode volume : pod.path("volumes")) {
      if (volume.path("name").asText().equals(name)) {
        return volume;
      }
    }
    throw new AssertionError("no volume " + name);
  }

  private static List<String> strings(JsonNode array) {
    List<String> values = new ArrayList<>();
    array.forEach(value -> values.add(value.asText()));
    return values;
  }

  /** A Kubernetes quantity in binary units (100Gi). */
  private static long quantity(String text) {
    Matcher matcher = Pattern.compile("(\\d+)(Ki|Mi|Gi|Ti)").matcher(text);
    assertTrue(matcher.matches(), text);
    int shift = switch (matcher.group(2)) {
      case "Ki" -> 10;
      case "Mi" -> 20;
      case "Gi" -> 30;
      default -> 40;
    };
    return Long.parseLong(matcher.group(1)) << shift;
  }

  private static int hostsTomlPort() throws IOException {
    Matcher matcher = Pattern.compile("\\[host\\.\"http://127\\.0\\.0\\.1:(\\d+)\"]")
        .matcher(Files.readString(ROOT.resolve("deploy/containerd/certs.d/docker.io/hosts.toml")));
    assertTrue(matcher.find());
    return Integer.parseInt(matcher.group(1));
  }

  /** The {@code mvn} line of scripts/run.sh, which the README tells people to run. */
  private static String mavenCommand() throws IOException {
    return Files.readAllLines(ROOT.resolve("scripts/run.sh")).stream()
        .map(String::strip).filter(line -> line.startsWith("mvn ")).findFirst()
        .orElseThrow(() -> new AssertionError("scripts/run.sh builds with mvn"));
  }

  /** The Dockerfile's instructions, continuation lines joined, comments dropped. */
  private static List<String> dockerfileInstructions() throws IOException {
    List<String> instructions = new ArrayList<>();
    StringBuilder current = new StringBuilder();
    for (String raw : Files.readAllLines(ROOT.resolve("docker/Dockerfile"))) {
      String line = raw.strip();
      if (line.startsWith("#") || line.isEmpty()) {
        continue;
      }
      boolean continues = line.endsWith("\\");
      current.append(continues ? line.substring(0, line.length() - 1).strip() + " " : line);
      if (!continues) {
        instructions.add(current.toString());
        current.setLength(0);
      }
    }
    return instructions;
  }

  private static long dockerfileUser() throws IOException {
    String user = dockerfileInstructions().stream().filter(line -> line.startsWith("USER ")).reduce((a, b) -> b).orElseThrow();
    return Long.parseLong(user.substring(5).split(":")[0]);
  }

  private static List<Path> files(String... directories) throws IOException {
    List<Path> files = new ArrayList<>();
    for (String directory : directories) {
      try (Stream<Path> walk = Files.walk(ROOT.resolve(directory))) {
        walk.filter(Files::isRegularFile).sorted().forEach(files::add);
      }
    }
    return files;
  }

  /** The repository's root directory: the first of the working directory's ancestors with {@code deploy/}. */
  static Path repositoryRoot() {
    Path directory = Path.of("").toAbsolutePath();
    while (directory != null && !Files.isDirectory(directory.resolve("deploy"))) {
      directory = directory.getParent();
    }
    if (directory == null) {
      throw new IllegalStateException("the tests run inside the repository, which has deploy/");
    }
    return directory;
  }
}
