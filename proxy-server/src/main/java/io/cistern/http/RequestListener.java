package io.cistern.http;

/**
 * Told once about every request of the registry port when its answer has ended. Called on the
 * connection's event loop: implementations must not block.
 */
@FunctionalInterface
public interface RequestListener {

  void served(ServedRequest request);
}
