package io.cistern.ops;

import java.util.List;

/** The bodies of the admin API's operations, as the CLI sends them. */
public final class OperatorRequests {

  private OperatorRequests() {}

  /** For pin, unpin, and a purge of one image. */
  public record ImageRequest(String image) {}

  /** A purge: one image, or (with {@code olderThan}, e.g. {@code 30d}) whatever was not read for that long. */
  public record PurgeRequest(String image, String olderThan) {}

  /** @param platforms {@code os/arch[/variant]} of an index to pull; empty or null for all */
  public record WarmRequest(List<String> images, List<String> platforms) {}

  /** @param out a file name in the server's bundle directory ({@code admin.bundleDirectory}); it must not exist */
  public record ExportRequest(String out, List<String> images) {}

  /** @param file a file name in the server's bundle directory ({@code admin.bundleDirectory}) */
  public record ImportRequest(String file, boolean pin) {}

  /** @param repair move what is damaged to quarantine and drop its row, rather than only report it */
  public record VerifyRequest(boolean repair) {}

  /** The answer to a started operation: its job, to follow with {@code GET /api/jobs?id=}. */
  public record JobStarted(long id) {}

  /** Why a request failed. */
  public record Failure(String error) {}
}
