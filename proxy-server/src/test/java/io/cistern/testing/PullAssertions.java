package io.cistern.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.io.IOException;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;

/** Checks of what a Cistern serves a client, for the tests that pull through it. */
public final class PullAssertions {

  private PullAssertions() {}

  /** GETs the manifest at {@code path}, accepting {@code image}'s media type, and asserts a 200 with {@code image}'s bytes. */
  public static void assertServesManifest(TestCistern cistern, String path, TestImage image)
      throws IOException, InterruptedException {
    HttpResponse<byte[]> response = cistern.get(path, "Accept", image.manifest().mediaType());
    assertEquals(200, response.statusCode(), () -> new String(response.body(), StandardCharsets.UTF_8));
    assertArrayEquals(image.manifest().bytes(), response.body(), path);
  }
}
