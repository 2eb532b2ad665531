package io.cistern.admin;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.cistern.cache.GrowingBlob;
import io.cistern.oci.Digest;
import io.cistern.proxy.BlobSource;
import io.cistern.testing.Chromium;
import io.cistern.testing.CountingRelay;
import io.cistern.testing.RealUpstream;
import io.cistern.testing.Skopeo;
import io.cistern.testing.TestCistern;
import io.cistern.testing.TestImage;
import java.net.URI;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.junit.jupiter.api.io.TempDir;

/**
 * The status page in a real browser (headless Chromium): it shows the numbers {@code /api/stats}
 * gives, a download held mid-way by the upstream relay among the downloads in flight, and it
 * renders to a screenshot.
 */
class StatusPageTest {

  private static final ObjectMapper JSON = new ObjectMapper();
  private static final byte[] PNG_SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};

  @RegisterExtension
  static final RealUpstream upstream = new RealUpstream();

  @TempDir
  Path temp;

  @Test
  void chromiumRendersTheApisNumbersAndADownloadInFlight() throws Exception {
    TestImage app = TestImage.random(91, 2, 40_000, "amd64");
    byte[] big = new byte[8 << 20];
    new Random(92).nextBytes(big);
    Digest bigDigest = Digest.sha256Of(big);
    try (CountingRelay relay = CountingRelay.to(upstream.port())) {
      upstream.push("team/app", "1.0", app);
      upstream.pushBlob("team/big", big);
      try (TestCistern cistern = TestCistern.fromYaml(temp.resolve("cistern"), """
          cache:
            directory: %s
            maxBytes: 1GiB
          upstreams:
            - host: upstream.test
              url: %s
          """.formatted(temp.resolve("cistern/cache"), relay.url()))) {
        // The big blob's download stops after its first megabyte until released.
        relay.holdAfter(1 << 20);
        BlobSource source = cistern.cistern().blobs()
            .open(cistern.cistern().router().route("team/big", null), bigDigest).get(30, TimeUnit.SECONDS);
        GrowingBlob download = ((BlobSource.Downloading) source).blob();
        download.awaitReadable(0, big.length - 1).get(30, TimeUnit.SECONDS);

        Skopeo skopeo = new Skopeo(temp.resolve("skopeo"));
        skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/team/app:1.0", "dir:" + temp.resolve("cold"));
        cistern.awaitStored(app.allContent().stream().map(TestImage.Blob::digest).toList());
        skopeo.copy("--src-tls-verify=false", "docker://" + cistern.hostPort() + "/team/app:1.0", "dir:" + temp.resolve("warm"));

        HttpResponse<String> api = cistern.admin("/api/stats");
        assertEquals(200, api.statusCode());
        JsonNode stats = JSON.readTree(api.body());
        JsonNode traffic = stats.get("traffic");
        assertTrue(traffic.get("hits").asLong() > 0 && traffic.get("misses").asLong() > 0, api.body());
        assertEquals(bigDigest.toString(), stats.get("downloads").get(0).get("digest").asText());
        assertEquals(big.length, stats.get("downloads").get(0).get("expectedBytes").asLong());

        URI page = URI.create("http://127.0.0.1:" + cistern.cistern().adminAddress().getPort() + "/status");
        Chromium chromium = new Chromium(temp.resolve("chromium"));
        String dom = chromium.dumpDom(page);

        assertEquals(stats.get("storedBytes").asText(), value(dom, "stored"));
        assertEquals(stats.get("maxBytes").asText(), value(dom, "cap"));
        assertEquals(stats.get("entries").asText(), value(dom, "entries"));
        assertEquals(stats.get("reservedBytes").asText(), value(dom, "reserved"), "the held download's room");
        assertEquals(traffic.get("hits").asText(), value(dom, "hits"));
        assertEquals(traffic.get("misses").asText(), value(dom, "misses"));
        assertEquals(traffic.get("hitRatio").asDouble(), Double.parseDouble(value(dom, "hit-ratio")));
        assertEquals(traffic.get("bytesFromCache").asText(), value(dom, "bytes-saved"));
        assertTrue(dom.contains("data-digest=\"" + bigDigest + "\""), "the download in flight is listed");
        assertTrue(dom.contains("upstream.test/team/app</td>"), "among the top repositories");
        assertTrue(dom.contains("id=\"upstream-url-upstream.test\" title=\"" + relay.url() + "\">" + relay.url() + "</td>"),
            "the url requests go to");
        assertTrue(dom.contains("class=\"state\">up<"), "the page read the API");

        Path screenshot = temp.resolve("status.png");
        chromium.screenshot(page, screenshot);
        byte[] png = Files.readAllBytes(screenshot);
        assertTrue(png.length > PNG_SIGNATURE.length, "a screenshot was written");
        assertArrayEquals(PNG_SIGNATURE, Arrays.copyOf(png, PNG_SIGNATURE.length), "as a PNG");

        relay.release();
        download.finished().get(30, TimeUnit.SECONDS);
      }
    }
  }

  /** The raw number the page keeps in {@code data-value} of the element with {@code id}. */
  private static String value(String dom, String id) {
    Matcher matcher = Pattern.compile("id=\"" + id + "\" data-value=\"([^\"]*)\"").matcher(dom);
    assertTrue(matcher.find(), "no #" + id + " with a value in the page:\n" + dom);
    return matcher.group(1);
  }
}
