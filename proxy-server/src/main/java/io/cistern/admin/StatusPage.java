package io.cistern.admin;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/**
 * The status page: plain HTML, CSS and JavaScript from the classpath ({@code /status/}), served
 * as they are; the script reads {@code /api/stats} and redraws every few seconds. Read once at
 * start, so serving it touches no disk.
 */
public final class StatusPage {

  private StatusPage() {}

  public static AdminRoutes register(AdminRoutes routes) {
    AdminResponse page = resource("index.html", "text/html; charset=utf-8");
    AdminResponse style = resource("status.css", "text/css; charset=utf-8");
    AdminResponse script = resource("status.js", "text/javascript; charset=utf-8");
    return routes
        .get("/", AdminEndpoint.immediate(request -> page))
        .get("/status", AdminEndpoint.immediate(request -> page))
        .get("/status/status.css", AdminEndpoint.immediate(request -> style))
        .get("/status/status.js", AdminEndpoint.immediate(request -> script));
  }

  private static AdminResponse resource(String name, String contentType) {
    try (InputStream in = StatusPage.class.getResourceAsStream("/status/" + name)) {
      if (in == null) {
        throw new IllegalStateException("/status/" + name + " is missing from the build");
      }
      return new AdminResponse(200, contentType, in.readAllBytes());
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }
}
