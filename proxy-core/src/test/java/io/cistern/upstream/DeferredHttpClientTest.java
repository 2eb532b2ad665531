package io.cistern.upstream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.net.http.HttpClient;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.jupiter.api.Test;

class DeferredHttpClientTest {

  private final HttpClient real = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(7)).build();

  @Test
  void theClientIsBuiltOnFirstUseAndOnlyOnceHoweverManyAskAtOnce() throws Exception {
    AtomicInteger builds = new AtomicInteger();
    CountDownLatch building = new CountDownLatch(1);
    CountDownLatch finish = new CountDownLatch(1);
    DeferredHttpClient deferred = new DeferredHttpClient(() -> {
      builds.incrementAndGet();
      building.countDown();
      await(finish);
      return real;
    });
    assertEquals(0, builds.get(), "nothing is built before the first use");
    ExecutorService pool = Executors.newFixedThreadPool(4);
    try {
      List<Future<?>> uses = new ArrayList<>();
      uses.add(pool.submit(deferred::connectTimeout));
      building.await(30, TimeUnit.SECONDS);
      for (int i = 0; i < 3; i++) {
        uses.add(pool.submit(deferred::connectTimeout)); // these wait for the build under way
      }
      finish.countDown();
      for (Future<?> use : uses) {
        assertEquals(real.connectTimeout(), use.get(30, TimeUnit.SECONDS));
      }
    } finally {
      pool.shutdownNow();
    }
    assertEquals(1, builds.get());
  }

  @Test
  void aFailedBuildIsTriedAgainByTheNextUse() {
    AtomicInteger builds = new AtomicInteger();
    DeferredHttpClient deferred = new DeferredHttpClient(() -> {
      if (builds.incrementAndGet() == 1) {
        throw new IllegalStateException("no trust store");
      }
      return real;
    });
    assertThrows(IllegalStateException.class, deferred::version);
    assertSame(real.version(), deferred.version());
    assertEquals(2, builds.get());
  }

  private static void await(CountDownLatch latch) {
    try {
      latch.await(30, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
