package io.cistern.testing;

import io.cistern.oci.Digest;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * Several Cisterns as one cluster on loopback, each a process of its own ({@link CisternProcess}),
 * sharing one bucket ({@link S3Server}), one member token and one real upstream. Each member has:
 *
 * <ul>
 *   <li>a <em>front</em>: a {@link CountingRelay} that is the member's address as the others reach
 *       it ({@code cluster.members}, {@code cluster.self}). It listens before the member starts,
 *       so every member's configuration can name every other member although each Cistern binds
 *       port 0; member-to-member requests pass through it and are recorded, and once the member is
 *       killed it refuses connections, as a dead pod's address does;
 *   <li>an <em>upstream relay</em> of its own in front of the shared Distribution, so a test sees
 *       which member went upstream for what (the owner), and can hold one answer
 *       ({@link CountingRelay.AnswerHold}) to catch a download in its middle;
 *   <li>a cache directory of its own.
 * </ul>
 *
 * Clients (skopeo, the test's HTTP client) talk to a member's own port ({@link Member#hostPort()}),
 * not through its front, so a front records member traffic only.
 *
 * <p>Background probes are an hour apart: members start taking each other for live, and the one
 * probe each sends each other at its start waits at the other's front until that member listens,
 * so every member computes the same owners from the start, whatever order the JVMs come up in.
 * Liveness then changes only as the test makes it: a member killed is found down by the first
 * request that fails against it.
 */
public final class CisternCluster implements AutoCloseable {

  /** The upstream's name, the same on every member: what {@code ?ns=} and the tag keys carry. */
  public static final String UPSTREAM = "upstream.test";
  public static final String TOKEN = "cluster-test-token-7f3a";
  public static final String BUCKET_PREFIX = "cistern/";
  /** The variable that carries the bucket's secret key (bucket.secretAccessKeyEnv). */
  static final String SECRET_VARIABLE = "CLUSTER_BUCKET_SECRET";

  private final Path directory;
  private final int upstreamPort;
  private final S3Server s3;
  private final List<Member> members = new CopyOnWriteArrayList<>();
  private final HttpClient http = HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  /** One Cistern of the cluster. */
  public final class Member {
    private final int index;
    private final CountingRelay front;
    private final CountingRelay upstream;
    private final Path cache;
    private CisternProcess process;

    private Member(int index) throws IOException {
      this.index = index;
      this.front = CountingRelay.unconnected();
      this.upstream = CountingRelay.to(upstreamPort);
      this.cache = directory.resolve("member-" + index).resolve("cache");
    }

    private void start(List<Member> cluster) {
      try {
        Path config = Files.writeString(Files.createDirectories(cache.getParent()).resolve("cistern.yml"), config(cluster));
        process = CisternProcess.start(config, Map.of(SECRET_VARIABLE, S3Server.SECRET_KEY));
        front.connectTo(process.port());
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    private String config(List<Member> cluster) {
      String list = cluster.stream().map(member -> "\n    - " + member.url()).collect(Collectors.joining());
      return """
          server:
            address: 127.0.0.1
            port: 0
          admin:
            address: 127.0.0.1
            port: 0
          cache:
            directory: %s
          tagTtl: 1h
          upstreams:
            - host: %s
              url: %s
          cluster:
            members:%s
            self: %s
            token: %s
            probeInterval: 1h
          bucket:
            name: %s
            endpoint: %s
            region: us-east-1
            prefix: %s
            pathStyle: true
            accessKeyId: %s
            secretAccessKeyEnv: %s
          """.formatted(cache, UPSTREAM, upstream.url(), list, url(), TOKEN, S3Server.BUCKET, s3.endpoint(),
          BUCKET_PREFIX, S3Server.ACCESS_KEY, SECRET_VARIABLE);
    }

    public int index() {
      return index;
    }

    /** The member's URL as the other members reach it (its front): its identity in the cluster. */
    public URI url() {
      return front.url();
    }

    /** {@code 127.0.0.1:PORT} of the member's own registry port, for clients (skopeo names it so). */
    public String hostPort() {
      return process.hostPort();
    }

    public URI registry(String path) {
      return URI.create("http://" + process.hostPort() + path);
    }

    public URI admin(String path) throws IOException {
      return URI.create("http://127.0.0.1:" + process.adminPort() + path);
    }

    /** Requests other members sent this one. */
    public CountingRelay front() {
      return front;
    }

    /** Requests this member sent the upstream. */
    public CountingRelay upstream() {
      return upstream;
    }

    public CisternProcess process() {
      return process;
    }

    public Scrape metrics() throws IOException, InterruptedException {
      return Scrape.parse(get(admin("/metrics")).body());
    }

    public HttpResponse<String> readyz() throws IOException, InterruptedException {
      return get(admin("/readyz"));
    }

    /** SIGKILL, then its address refuses connections, as a pod's that died. */
    public void kill() throws IOException, InterruptedException {
      process.kill();
      front.goDown();
    }

    private void close() throws IOException, InterruptedException {
      if (process != null) {
        process.close();
        // Into the test's output (surefire keeps it in a file per class): what a failure needs explained.
        System.out.println("---- " + this + ", its log:");
        process.output().forEach(System.out::println);
      }
      front.close();
      upstream.close();
    }

    @Override
    public String toString() {
      return "member " + index + " (" + url() + ")";
    }
  }

  private CisternCluster(Path directory, int upstreamPort, S3Server s3) {
    this.directory = directory;
    this.upstreamPort = upstreamPort;
    this.s3 = s3;
  }

  /** Starts {@code size} members, each listing all of them, and returns once every one listens. */
  public static CisternCluster start(Path directory, int upstreamPort, S3Server s3, int size) throws Exception {
    CisternCluster cluster = new CisternCluster(directory, upstreamPort, s3);
    try {
      List<Member> founders = new ArrayList<>();
      for (int i = 0; i < size; i++) {
        founders.add(cluster.new Member(i));
      }
      cluster.members.addAll(founders);
      // In parallel: each start is a JVM's start, and a member waits for no other to start.
      CompletableFuture.allOf(founders.stream()
          .map(member -> CompletableFuture.runAsync(() -> member.start(founders)))
          .toArray(CompletableFuture[]::new)).get(3, TimeUnit.MINUTES);
      return cluster;
    } catch (Exception e) {
      cluster.close();
      throw e;
    }
  }

  /**
   * Starts one more member, with an empty disk, listing every member so far and itself (the
   * others' lists stay as they were), and returns once it listens.
   */
  public Member join() throws Exception {
    Member member = new Member(members.size());
    members.add(member);
    List<Member> listed = List.copyOf(members);
    try {
      member.start(listed);
    } catch (UncheckedIOException e) {
      throw e.getCause();
    }
    return member;
  }

  /** Every member started, in order (killed ones included). */
  public List<Member> members() {
    return List.copyOf(members);
  }

  public Member member(int index) {
    return members.get(index);
  }

  /** The member whose upstream relay is {@code relay}. */
  public Member byUpstreamRelay(CountingRelay relay) {
    return members.stream().filter(member -> member.upstream == relay).findFirst()
        .orElseThrow(() -> new AssertionError("no member goes upstream through " + relay.url()));
  }

  /** Whole-blob GETs of {@code digest} that reached the upstream, from any member (ranged ones are counted apart). */
  public long fullUpstreamGets(Digest digest) {
    return upstreamGets(digest, false);
  }

  /** Ranged GETs of {@code digest} that reached the upstream, from any member. */
  public long rangedUpstreamGets(Digest digest) {
    return upstreamGets(digest, true);
  }

  private long upstreamGets(Digest digest, boolean ranged) {
    String suffix = "/blobs/" + digest;
    return members.stream().flatMap(member -> member.upstream.requests().stream())
        .filter(request -> request.method().equals("GET") && request.path().endsWith(suffix))
        .filter(request -> request.hasHeader("Range") == ranged)
        .count();
  }

  /** Every request that reached the upstream from any member. */
  public List<CountingRelay.Request> upstreamRequests() {
    return members.stream().flatMap(member -> member.upstream.requests().stream()).toList();
  }

  /** The bucket key of content-addressed {@code digest}: {@code <prefix>blobs/<algorithm>/<hex>}. */
  public static String bucketKey(Digest digest) {
    return BUCKET_PREFIX + "blobs/" + digest.algorithm().prefix() + "/" + digest.hex();
  }

  private HttpResponse<String> get(URI uri) throws IOException, InterruptedException {
    return http.send(HttpRequest.newBuilder(uri).build(), HttpResponse.BodyHandlers.ofString());
  }

  @Override
  public void close() throws Exception {
    Exception failure = null;
    for (Member member : members) {
      try {
        member.close();
      } catch (IOException | InterruptedException | CompletionException e) {
        failure = failure == null ? e : failure;
      }
    }
    if (failure != null) {
      throw failure;
    }
  }
}
