package io.cistern.admin;

import io.cistern.config.Durations;
import io.cistern.oci.Json;
import io.cistern.oci.Platform;
import io.cistern.oci.RegistryException;
import io.cistern.ops.CacheOperations;
import io.cistern.ops.Jobs;
import io.cistern.ops.OperationException;
import io.cistern.ops.OperatorRequests.ExportRequest;
import io.cistern.ops.OperatorRequests.Failure;
import io.cistern.ops.OperatorRequests.ImageRequest;
import io.cistern.ops.OperatorRequests.ImportRequest;
import io.cistern.ops.OperatorRequests.JobStarted;
import io.cistern.ops.OperatorRequests.PurgeRequest;
import io.cistern.ops.OperatorRequests.WarmRequest;
import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Executor;
import java.util.function.Function;
import java.util.function.Supplier;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin listener's JSON API for operators: thin handlers that parse a request, run the
 * {@link CacheOperations} call off the event loop, and put its answer (or its failure) as JSON.
 * Long operations (warm, export, import) start a job and answer 202 at once.
 *
 * <pre>
 * GET  /api/stats                          size, cap, pins, hit ratio, top repositories, downloads
 * GET  /api/images?repository=&amp;limit=      cached images
 * POST /api/pin     {"image": REF}          POST /api/unpin {"image": REF}
 * POST /api/purge   {"image": REF} | {"olderThan": "30d"}
 * POST /api/warm    {"images": [REF…], "platforms": ["linux/amd64"…]}   → 202 {"id": N}
 * POST /api/export  {"out": "/abs/site.tar", "images": [REF…]}          → 202 {"id": N}
 * POST /api/import  {"file": "/abs/site.tar", "pin": false}             → 202 {"id": N}
 * GET  /api/jobs?id=N                     a job's progress and outcome
 * </pre>
 */
public final class OperationsApi {

  private static final Logger log = LoggerFactory.getLogger(OperationsApi.class);
  private static final int DEFAULT_LIMIT = 1000;

  private final CacheOperations operations;
  private final Jobs jobs;
  private final Executor executor;

  /** @param executor where the (blocking) operations run, off the admin event loop */
  public OperationsApi(CacheOperations operations, Jobs jobs, Executor executor) {
    this.operations = operations;
    this.jobs = jobs;
    this.executor = executor;
  }

  public AdminRoutes register(AdminRoutes routes) {
    return routes
        .get("/api/stats", request -> run(operations::stats))
        .get("/api/images", request -> run(() -> operations.images(request.parameter("repository"),
            limit(request.parameter("limit")))))
        .add("POST", "/api/pin", request -> run(() -> operations.pin(body(request, ImageRequest.class).image())))
        .add("POST", "/api/unpin", request -> run(() -> operations.unpin(body(request, ImageRequest.class).image())))
        .add("POST", "/api/purge", request -> run(() -> purge(body(request, PurgeRequest.class))))
        .add("POST", "/api/warm", request -> start(request, WarmRequest.class, warm -> {
          List<Platform> platforms = platforms(warm.platforms());
          return jobs.start("warm", progress -> operations.warm(orEmpty(warm.images()), platforms, progress));
        }))
        .add("POST", "/api/export", request -> start(request, ExportRequest.class, export -> {
          Path out = absolute(export.out(), "out");
          return jobs.start("export", progress -> operations.export(out, orEmpty(export.images()), progress));
        }))
        .add("POST", "/api/import", request -> start(request, ImportRequest.class, bundle -> {
          Path file = absolute(bundle.file(), "file");
          return jobs.start("import", progress -> operations.importBundle(file, bundle.pin(), progress));
        }))
        .get("/api/jobs", request -> run(() -> jobs.view(jobId(request.parameter("id")))
            .orElseThrow(() -> new OperationException(404, "no job " + request.parameter("id")))));
  }

  private Object purge(PurgeRequest purge) {
    if ((purge.image() == null) == (purge.olderThan() == null)) {
      throw new OperationException(400, "a purge names either an image or olderThan");
    }
    if (purge.image() != null) {
      return operations.purge(purge.image());
    }
    try {
      return operations.purgeOlderThan(Durations.parse(purge.olderThan()));
    } catch (IllegalArgumentException e) {
      throw new OperationException(400, "olderThan: " + e.getMessage());
    }
  }

  private CompletableFuture<AdminResponse> run(Supplier<Object> work) {
    return CompletableFuture.supplyAsync(() -> answer(200, work), executor);
  }

  private <T> CompletableFuture<AdminResponse> start(AdminRequest request, Class<T> type, Function<T, Long> starter) {
    // Starting a job only parses and hands it to the job pool: no need to leave the event loop.
    return CompletableFuture.completedFuture(answer(202, () -> new JobStarted(starter.apply(body(request, type)))));
  }

  private static AdminResponse answer(int status, Supplier<Object> work) {
    try {
      return AdminResponse.json(status, work.get());
    } catch (OperationException e) {
      return AdminResponse.json(e.status(), new Failure(e.getMessage()));
    } catch (RegistryException e) {
      return AdminResponse.json(e.status(), new Failure(e.getMessage()));
    } catch (RuntimeException e) {
      log.warn("admin operation failed", e);
      return AdminResponse.json(500, new Failure(e.getMessage() != null ? e.getMessage() : e.toString()));
    }
  }

  private static <T> T body(AdminRequest request, Class<T> type) {
    try {
      return Json.read(request.body(), type);
    } catch (IOException e) {
      throw new OperationException(400, "the body must be JSON like " + example(type) + ": " + e.getMessage());
    }
  }

  private static String example(Class<?> type) {
    return type.getSimpleName() + " " + List.of(type.getRecordComponents()).stream().map(c -> c.getName()).toList();
  }

  private static int limit(String text) {
    if (text == null) {
      return DEFAULT_LIMIT;
    }
    try {
      return Integer.parseInt(text);
    } catch (NumberFormatException e) {
      throw new OperationException(400, "limit must be a number");
    }
  }

  private static long jobId(String text) {
    try {
      return Long.parseLong(text);
    } catch (NumberFormatException | NullPointerException e) {
      throw new OperationException(400, "id must be a job number");
    }
  }

  private static List<Platform> platforms(List<String> texts) {
    try {
      return orEmpty(texts).stream().map(Platform::parse).toList();
    } catch (IllegalArgumentException e) {
      throw new OperationException(400, e.getMessage());
    }
  }

  private static Path absolute(String text, String field) {
    if (text == null || !Path.of(text).isAbsolute()) {
      throw new OperationException(400, field + " must be an absolute path on the server's machine");
    }
    return Path.of(text);
  }

  private static <T> List<T> orEmpty(List<T> list) {
    return list == null ? List.of() : list;
  }
}
