package io.cistern.testing;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.net.http.HttpResponse;
import java.util.Arrays;
import java.util.List;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.AfterEachCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.BeforeEachCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * One blob on a {@link RealUpstream} for a whole test class and, for each test, a fresh
 * {@link CisternOnRelay} in front of it (the blob starts cold), with {@link BoundedClients}: the rig of the tests of clients' ranges and HEADs of a blob. Register
 * it in a static field; it pushes the blob before all tests:
 *
 * <pre>{@code
 * @RegisterExtension
 * static final BlobBehindRelay site = new BlobBehindRelay("team/ranges", TestImage.Blob.random(5, 2 << 20));
 * }</pre>
 */
public final class BlobBehindRelay implements BeforeAllCallback, AfterAllCallback, BeforeEachCallback, AfterEachCallback {

  private final RealUpstream upstream = new RealUpstream();
  private final CisternOnRelay site = new CisternOnRelay(upstream);
  private final BoundedClients clients = new BoundedClients();
  private final String repository;
  private final TestImage.Blob blob;

  public BlobBehindRelay(String repository, TestImage.Blob blob) {
    this.repository = repository;
    this.blob = blob;
  }

  @Override
  public void beforeAll(ExtensionContext context) throws Exception {
    upstream.beforeAll(context);
    upstream.pushBlob(repository, blob.bytes());
  }

  @Override
  public void beforeEach(ExtensionContext context) throws Exception {
    site.beforeEach(context);
    clients.beforeEach(context);
  }

  @Override
  public void afterEach(ExtensionContext context) throws Exception {
    clients.afterEach(context);
    site.afterEach(context);
  }

  @Override
  public void afterAll(ExtensionContext context) throws Exception {
    upstream.afterAll(context);
  }

  public TestImage.Blob blob() {
    return blob;
  }

  /** {@code /v2/<repository>/blobs/<digest>}: the blob's path at Cistern and at the upstream. */
  public String path() {
    return "/v2/" + repository + "/blobs/" + blob.digest();
  }

  public CountingRelay relay() {
    return site.relay();
  }

  public TestCistern cistern() {
    return site.cistern();
  }

  /** The GETs of the blob that reached the upstream so far, ranged or not. */
  public List<CountingRelay.Request> blobGets() {
    return relay().requests().stream()
        .filter(request -> request.method().equals("GET") && request.path().equals(path()))
        .toList();
  }

  /** GETs the whole blob and returns once its first bytes are in, waited for at most a minute ({@link BoundedClients#open}). */
  public BlobStream open() throws Exception {
    return clients.open(cistern().url(path()));
  }

  /** Sends {@code method} for the blob, with {@code headers} as name, value pairs; waits at most a minute for the answer. */
  public HttpResponse<byte[]> send(String method, String... headers) throws Exception {
    return clients.send(method, cistern().url(path()), headers);
  }

  /** Asserts a 206 answer of the blob's bytes {@code first} to {@code last}: its range, length and bytes. */
  public void assertPartial(HttpResponse<byte[]> response, long first, long last) {
    assertEquals(206, response.statusCode());
    assertEquals("bytes " + first + "-" + last + "/" + blob.bytes().length,
        response.headers().firstValue("Content-Range").orElseThrow());
    assertEquals(String.valueOf(last - first + 1), response.headers().firstValue("Content-Length").orElseThrow());
    assertArrayEquals(Arrays.copyOfRange(blob.bytes(), (int) first, (int) last + 1), response.body());
  }
}
