package io.cistern.admin;

import io.cistern.oci.Json;
import io.cistern.oci.RegistryException;
import io.cistern.ops.BundleDirectory;
import io.cistern.ops.CacheOperations;
import io.cistern.ops.Jobs;
import io.cistern.ops.OperationException;
import io.cistern.ops.OperatorRequests.ExportRequest;
import io.cistern.ops.OperatorRequests.ImageRequest;
import io.cistern.ops.OperatorRequests.ImportRequest;
import io.cistern.ops.OperatorRequests.JobStarted;
import io.cistern.ops.OperatorRequests.PurgeRequest;
import io.cistern.ops.OperatorRequests.VerifyRequest;
import io.cistern.ops.OperatorRequests.WarmRequest;
import java.io.IOException;
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
 * Long operations (warm, export, import, verify) start a job and answer 202 at once. Bundles are files in
 * the {@link BundleDirectory}, named without a path. Who may call what is the route's
 * {@link AdminAccess}: stats are open (the status page reads them), listings need the token when
 * one is set, and operations need the token, or without one a caller on this machine.
 *
 * <pre>
 * GET  /api/stats                          size, cap, pins, hit ratio, top repositories, downloads
 * GET  /api/images?repository=&amp;limit=      cached images
 * POST /api/pin     {"image": REF}          POST /api/unpin {"image": REF}
 * POST /api/purge   {"image": REF} | {"olderThan": "30d"}
 * POST /api/warm    {"images": [REF…], "platforms": ["linux/amd64"…]}   → 202 {"id": N}
 * POST /api/export  {"out": "site.tar", "images": [REF…]}               → 202 {"id": N}
 * POST /api/import  {"file": "site.tar", "pin": false}                  → 202 {"id": N}
 * POST /api/verify  {"repair": false}                                   → 202 {"id": N}
 * GET  /api/jobs?id=N                     a job's progress and outcome
 * </pre>
 */
public final class OperationsApi {

  private static final Logger log = LoggerFactory.getLogger(OperationsApi.class);
  private static final int DEFAULT_LIMIT = 1000;

  private final CacheOperations operations;
  private final Jobs jobs;
  private final Executor executor;
  private final BundleDirectory bundles;

  /** @param executor where the (blocking) operations run, off the admin event loop */
  public OperationsApi(CacheOperations operations, Jobs jobs, Executor executor, BundleDirectory bundles) {
    this.operations = operations;
    this.jobs = jobs;
    this.executor = executor;
    this.bundles = bundles;
  }

  public AdminRoutes register(AdminRoutes routes) {
    return routes
        .get("/api/stats", request -> run(operations::stats))
        .add("GET", "/api/images", AdminAccess.READ, request -> run(() -> operations.images(request.parameter("repository"),
            limit(request.parameter("limit")))))
        .add("GET", "/api/jobs", AdminAccess.READ, request -> run(() -> jobs.view(jobId(request.parameter("id")))
            .orElseThrow(() -> new OperationException(404, "no job " + request.parameter("id")))))
        .add("POST", "/api/pin", AdminAccess.OPERATE,
            request -> run(() -> operations.pin(body(request, ImageRequest.class).image())))
        .add("POST", "/api/unpin", AdminAccess.OPERATE,
            request -> run(() -> operations.unpin(body(request, ImageRequest.class).image())))
        .add("POST", "/api/purge", AdminAccess.OPERATE, request -> run(() -> purge(body(request, PurgeRequest.class))))
        .add("POST", "/api/warm", AdminAccess.OPERATE, request -> start(request, WarmRequest.class,
            warm -> jobs.start("warm", operations.warmJob(orEmpty(warm.images()), orEmpty(warm.platforms())))))
        .add("POST", "/api/export", AdminAccess.OPERATE, request -> start(request, ExportRequest.class,
            export -> jobs.start("export", operations.exportJob(bundles.forExport(export.out()), orEmpty(export.images())))))
        .add("POST", "/api/import", AdminAccess.OPERATE, request -> start(request, ImportRequest.class,
            bundle -> jobs.start("import", operations.importJob(bundles.forImport(bundle.file()), bundle.pin()))))
        .add("POST", "/api/verify", AdminAccess.OPERATE, request -> start(request, VerifyRequest.class,
            verify -> jobs.start("verify", operations.verifyJob(verify.repair()))));
  }

  private Object purge(PurgeRequest purge) {
    if ((purge.image() == null) == (purge.olderThan() == null)) {
      throw new OperationException(400, "a purge names either an image or olderThan");
    }
    return purge.image() != null ? operations.purge(purge.image()) : operations.purgeOlderThan(purge.olderThan());
  }

  private CompletableFuture<AdminResponse> run(Supplier<Object> work) {
    return CompletableFuture.supplyAsync(() -> answer(200, work), executor);
  }

  private <T> CompletableFuture<AdminResponse> start(AdminRequest request, Class<T> type, Function<T, Long> starter) {
    // Off the event loop too: checking a bundle's file touches the disk.
    return CompletableFuture.supplyAsync(() -> answer(202, () -> new JobStarted(starter.apply(body(request, type)))),
        executor);
  }

  private static AdminResponse answer(int status, Supplier<Object> work) {
    try {
      return AdminResponse.json(status, work.get());
    } catch (OperationException e) {
      return AdminResponse.error(e.status(), e.getMessage());
    } catch (RegistryException e) {
      return AdminResponse.error(e.status(), e.getMessage());
    } catch (RuntimeException e) {
      log.warn("admin operation failed", e);
      return AdminResponse.error(500, e.getMessage() != null ? e.getMessage() : e.toString());
    }
  }

  private static <T> T body(AdminRequest request, Class<T> type) {
    T value;
    try {
      value = Json.read(request.body(), type);
    } catch (IOException e) {
      throw new OperationException(400, "the body must be JSON like " + example(type) + ": " + e.getMessage());
    }
    if (value == null) {
      throw new OperationException(400, "the body must be JSON like " + example(type));
    }
    return value;
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

  private static <T> List<T> orEmpty(List<T> list) {
    return list == null ? List.of() : list;
  }
}
