package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.admin.UpstreamRateLimits;
import io.cistern.oci.MediaTypes;
import io.cistern.testing.Chromium;
import io.cistern.testing.RateLimitHeaderRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Scrape;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Path;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

/**
 * Docker Hub's rate-limit headers, added by a relay in front of a real Distribution (which sends
 * none): a skopeo pull through Cistern makes them gauges in {@code /metrics}, numbers in
 * {@code /api/stats} and a row on the status page; a fall below a tenth of the limit is logged
 * once; a malformed header changes nothing and fails no pull.
 */
class RateLimitVisibilityTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String UPSTREAM = "upstream.test";

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @TempDir
  Path temp;

  @Test
  void reportedLimitsBecomeGaugesStatsAndAStatusRowAndALowRemainderWarnsOnce() throws Exception {
    TestImage image = TestImage.random(171, 2, 30_000, "amd64");
    for (String tag : List.of("1.0", "2.0", "3.0", "4.0", "5.0")) {
      upstream.push("library/app", tag, image);
    }
    Logger logger = (Logger) LoggerFactory.getLogger(UpstreamRateLimits.class);
    ListAppender<ILoggingEvent> logs = new ListAppender<>();
    logs.start();
    logger.addAppender(logs);
    try (RateLimitHeaderRelay relay = RateLimitHeaderRelay.to(upstream.port());
         TestCistern cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
             cache:
               directory: %s
             upstreams:
               - host: %s
                 url: %s
             """.formatted(temp.resolve("cistern/cache"), UPSTREAM, relay.url()))) {
      assertFalse(scrape(cistern).has("cistern_upstream_ratelimit_remaining"), "no series before a report");

      relay.report("100;w=21600", "76;w=21600");
      new Skopeo(temp.resolve("skopeo")).copy("--src-tls-verify=false",
          "docker://" + cistern.hostPort() + "/library/app:1.0", "dir:" + temp.resolve("pulled"));
      Scrape pulled = scrape(cistern);
      assertEquals(100, pulled.value("cistern_upstream_ratelimit_limit", "upstream", UPSTREAM), pulled.toString());
      assertEquals(76, pulled.value("cistern_upstream_ratelimit_remaining", "upstream", UPSTREAM));
      assertEquals(21600, pulled.value("cistern_upstream_ratelimit_window_seconds", "upstream", UPSTREAM));
      JsonNode reported = JSON.readTree(cistern.admin("/api/stats").body()).path("rateLimits");
      assertEquals(JSON.readTree("""
          [{"upstream": "upstream.test", "limit": 100, "remaining": 76, "windowSeconds": 21600, "low": false}]
          """), reported);
      assertEquals(List.of(), warnings(logs), "76 of 100 is not low");

      // Each manifest request below is a cache miss (a tag not seen yet): it reaches the upstream,
      // and its answer is observed before the client has it.
      relay.report("100;w=21600", "9;w=21600");
      assertPulls(cistern, "2.0");
      relay.report("100;w=21600", "8;w=21600");
      assertPulls(cistern, "3.0");
      assertEquals(List.of("upstream upstream.test has 9 of 100 requests left in its rate-limit window of 21600 s: "
          + "below 10 %; when none are left, pulls that miss the cache are refused (429) until the window moves on"),
          warnings(logs), "once, when the remainder fell below a tenth");
      assertEquals(8, scrape(cistern).value("cistern_upstream_ratelimit_remaining", "upstream", UPSTREAM));

      relay.report("a hundred", "8;w=soon");
      assertPulls(cistern, "4.0");
      relay.report("100;w=21600", "");
      assertPulls(cistern, "5.0");
      Scrape afterMalformed = scrape(cistern);
      assertEquals(8, afterMalformed.value("cistern_upstream_ratelimit_remaining", "upstream", UPSTREAM),
          "malformed headers are ignored");
      assertEquals(100, afterMalformed.value("cistern_upstream_ratelimit_limit", "upstream", UPSTREAM));
      assertEquals(1, warnings(logs).size());
      assertTrue(logs.list.stream().noneMatch(event -> event.getLevel() == Level.ERROR), "nothing failed");

      String dom = new Chromium(temp.resolve("chromium"))
          .dumpDom(URI.create("http://127.0.0.1:" + cistern.cistern().adminAddress().getPort() + "/status"));
      Matcher row = Pattern.compile("<td class=\"number low\" id=\"rate-limit-upstream.test\" data-value=\"(\\d+)\""
          + " data-limit=\"(\\d+)\">([^<]*)</td>").matcher(dom);
      assertTrue(row.find(), "a rate-limit row for the upstream, marked low:\n" + dom);
      assertEquals("8", row.group(1));
      assertEquals("100", row.group(2));
      assertEquals("8 of 100 per 6 h · low", row.group(3));
      assertTrue(dom.contains("data-upstream=\"upstream.test\""), dom);
    } finally {
      logger.detachAppender(logs);
    }
  }

  private static void assertPulls(TestCistern cistern, String tag) throws Exception {
    HttpResponse<byte[]> response = cistern.get("/v2/library/app/manifests/" + tag, "Accept", MediaTypes.OCI_MANIFEST);
    assertEquals(200, response.statusCode(), new String(response.body()));
  }

  private static Scrape scrape(TestCistern cistern) throws Exception {
    HttpResponse<String> metrics = cistern.admin("/metrics");
    assertEquals(200, metrics.statusCode());
    return Scrape.parse(metrics.body());
  }

  private static List<String> warnings(ListAppender<ILoggingEvent> logs) {
    return logs.list.stream().filter(event -> event.getLevel() == Level.WARN).map(ILoggingEvent::getFormattedMessage).toList();
  }
}
