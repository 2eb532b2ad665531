package io.cistern.admin;

import java.util.concurrent.CompletableFuture;

/**
 * One route of the admin listener. It runs on the admin event loop: anything that may block
 * (disk, database) must be handed to an executor and answered through the future.
 */
@FunctionalInterface
public interface AdminEndpoint {

  CompletableFuture<AdminResponse> answer(AdminRequest request);

  /** An endpoint whose answer is computed at once, without blocking. */
  static AdminEndpoint immediate(java.util.function.Function<AdminRequest, AdminResponse> answer) {
    return request -> CompletableFuture.completedFuture(answer.apply(request));
  }
}
