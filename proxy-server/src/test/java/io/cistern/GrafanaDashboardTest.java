package io.cistern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.testing.RateLimitHeaderRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The Grafana dashboard in {@code deploy/grafana/} against a running Cistern: after a skopeo pull
 * through it from a real Distribution (behind a relay that adds Docker Hub's rate-limit headers,
 * so those series exist too), every metric each panel's PromQL names has samples in
 * {@code /metrics}, with the labels its selectors name, and each panel the README promises is there.
 */
class GrafanaDashboardTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final Path DASHBOARD = DeploymentFilesTest.repositoryRoot().resolve("deploy/grafana/cistern-dashboard.json");
  private static final List<String> PANELS = List.of("Hit ratio", "Bytes saved", "Upstream requests and errors by status",
      "Downloads in flight", "Cache size vs cap", "Evictions", "Request latency by route", "Rate-limit remaining");
  /** Labels Prometheus adds to every series it scrapes: not in {@code /metrics} itself. */
  private static final Set<String> TARGET_LABELS = Set.of("instance", "job");
  /** PromQL words that look like metric names: operators and modifiers. */
  private static final Set<String> KEYWORDS = Set.of("by", "without", "on", "ignoring", "group_left", "group_right",
      "bool", "and", "or", "unless", "offset", "atan2", "inf", "nan");

  private static final Pattern STRING = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"|'(?:[^'\\\\]|\\\\.)*'|`[^`]*`");
  private static final Pattern IDENTIFIER = Pattern.compile("(?<![\\w.:$])([a-zA-Z_:][a-zA-Z0-9_:]*)(\\s*\\()?");
  private static final Pattern SELECTOR = Pattern.compile("([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*\\{((?:[^}\"]|\"(?:[^\"\\\\]|\\\\.)*\")*)}");
  private static final Pattern MATCHER = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(=~|!~|!=|=)\\s*\"((?:[^\"\\\\]|\\\\.)*)\"");
  private static final Pattern LABEL_VALUES = Pattern.compile("label_values\\(\\s*([a-zA-Z_:][a-zA-Z0-9_:]*)\\s*,");

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @TempDir
  Path temp;

  @Test
  void everyPanelsQueriesNameSeriesARunningCisternExportsAfterAPull() throws Exception {
    JsonNode dashboard = JSON.readTree(DASHBOARD.toFile());
    TestImage image = TestImage.random(172, 2, 50_000, "amd64");
    upstream.push("library/app", "1.0", image);
    try (RateLimitHeaderRelay relay = RateLimitHeaderRelay.to(upstream.port());
         TestCistern cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
             cache:
               directory: %s
             upstreams:
               - host: docker.io
                 url: %s
             """.formatted(temp.resolve("cistern/cache"), relay.url()))) {
      relay.report("100;w=21600", "76;w=21600");
      Skopeo skopeo = new Skopeo(temp.resolve("skopeo"));
      String source = "docker://" + cistern.hostPort() + "/library/app:1.0";
      skopeo.copy("--src-tls-verify=false", source, "dir:" + temp.resolve("cold"));
      skopeo.copy("--src-tls-verify=false", source, "dir:" + temp.resolve("warm"));
      HttpResponse<String> metrics = cistern.admin("/metrics");
      assertEquals(200, metrics.statusCode());
      Scrape scrape = Scrape.parse(metrics.body());

      List<String> problems = new ArrayList<>();
      Set<String> titles = new LinkedHashSet<>();
      for (JsonNode panel : dashboard.path("panels")) {
        String title = panel.path("title").asText();
        titles.add(title);
        assertFalse(panel.path("targets").isEmpty(), title + " has no query");
        for (JsonNode target : panel.path("targets")) {
          String expression = target.path("expr").asText();
          Set<String> names = metricNames(expression);
          if (names.isEmpty()) {
            problems.add(title + ": names no metric: " + expression);
          }
          for (String name : names) {
            if (scrape.samples(name).isEmpty()) {
              problems.add(title + ": " + name + " has no samples in /metrics");
            }
          }
          problems.addAll(selectorProblems(title, expression, scrape));
        }
      }
      for (JsonNode variable : dashboard.path("templating").path("list")) {
        if (variable.path("type").asText().equals("query")) {
          Matcher query = LABEL_VALUES.matcher(variable.path("definition").asText());
          assertTrue(query.find(), "the variable " + variable.path("name").asText() + " lists a metric's label values");
          if (scrape.samples(query.group(1)).isEmpty()) {
            problems.add("variable " + variable.path("name").asText() + ": " + query.group(1) + " has no samples");
          }
        }
      }
      assertEquals(List.of(), problems, "after a pull, /metrics said:\n" + scrape);
      assertTrue(titles.containsAll(PANELS), "panels " + PANELS + ", found " + titles);
    }
  }

  @Test
  void theDashboardImportsIntoAnyGrafanaWithAPrometheusDataSource() throws Exception {
    JsonNode dashboard = JSON.readTree(DASHBOARD.toFile());
    assertFalse(dashboard.path("uid").asText().isEmpty());
    assertTrue(dashboard.path("id").isMissingNode() || dashboard.path("id").isNull(), "no instance-specific id");
    JsonNode datasource = dashboard.path("templating").path("list").get(0);
    assertEquals("datasource", datasource.path("type").asText());
    assertEquals("prometheus", datasource.path("query").asText());
    String reference = "${" + datasource.path("name").asText() + "}";
    Set<Integer> ids = new HashSet<>();
    for (JsonNode panel : dashboard.path("panels")) {
      String title = panel.path("title").asText();
      assertTrue(ids.add(panel.path("id").asInt()), title + ": panel ids are unique");
      assertEquals(reference, panel.path("datasource").path("uid").asText(), title + " queries the chosen data source");
      for (JsonNode target : panel.path("targets")) {
        assertEquals(reference, target.path("datasource").path("uid").asText(), title);
      }
    }
  }

  @Test
  void metricNamesAreReadFromPromqlWithoutFunctionsLabelsRangesOrVariables() {
    assertEquals(Set.of("cistern_requests_seconds_bucket"), metricNames(
        "histogram_quantile(0.99, sum by (route, le) (rate(cistern_requests_seconds_bucket{route=\"a{b}\", instance=~\"$instance\"}[$__rate_interval])))"));
    assertEquals(Set.of("a_total", "b"), metricNames("sum without (x) (a_total offset 5m) / on(instance) group_left b * 1e3"));
    assertEquals(Set.of("cistern_cache_size_bytes"), metricNames("max by (upstream)(cistern_cache_size_bytes) > bool 0.5"));
    assertEquals(List.of("cistern_served_bytes_total: no sample with source=\"disk\""),
        selectorProblems("", "cistern_served_bytes_total{source=\"disk\"}", Scrape.parse("cistern_served_bytes_total{source=\"cache\"} 1\n")));
  }

  /**
   * The metrics {@code expression} selects: its identifiers, once strings, label matchers, ranges,
   * grouping labels, offsets and Grafana variables are gone, that are neither functions nor
   * keywords. A histogram is named by its series ({@code _bucket}, {@code _sum}, {@code _count}),
   * which are what {@code /metrics} has samples for.
   */
  static Set<String> metricNames(String expression) {
    String text = STRING.matcher(expression).replaceAll("\"\"")
        .replaceAll("\\{[^}]*}", " ")
        .replaceAll("\\[[^\\]]*]", " ")
        .replaceAll("\\b(by|without|on|ignoring|group_left|group_right)\\s*\\([^)]*\\)", " ")
        .replaceAll("\\boffset\\s+-?\\w+", " ")
        .replaceAll("\\$\\{?\\w+}?", " ");
    Set<String> names = new LinkedHashSet<>();
    Matcher identifier = IDENTIFIER.matcher(text);
    while (identifier.find()) {
      boolean function = identifier.group(2) != null;
      if (!function && !KEYWORDS.contains(identifier.group(1))) {
        names.add(identifier.group(1));
      }
    }
    return names;
  }

  /**
   * What the scrape lacks for {@code expression}'s selectors: a label no sample of the metric has,
   * or an exact value none has (matchers with variables or regular expressions check the label only).
   */
  private static List<String> selectorProblems(String title, String expression, Scrape scrape) {
    List<String> problems = new ArrayList<>();
    Matcher selector = SELECTOR.matcher(expression);
    while (selector.find()) {
      String name = selector.group(1);
      List<Scrape.Sample> samples = scrape.samples(name);
      Matcher matcher = MATCHER.matcher(selector.group(2));
      while (matcher.find()) {
        String label = matcher.group(1);
        String value = matcher.group(3);
        String prefix = (title.isEmpty() ? "" : title + ": ") + name;
        if (TARGET_LABELS.contains(label) || samples.isEmpty()) {
          continue;
        }
        if (samples.stream().noneMatch(sample -> sample.labels().containsKey(label))) {
          problems.add(prefix + ": no label " + label);
        } else if (matcher.group(2).equals("=") && !value.contains("$")
            && samples.stream().noneMatch(sample -> value.equals(sample.labels().get(label)))) {
          problems.add(prefix + ": no sample with " + label + "=\"" + value + "\"");
        }
      }
    }
    return problems;
  }
}
