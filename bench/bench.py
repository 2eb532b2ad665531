#!/usr/bin/env python3
"""Cistern vs CNCF Distribution (proxy mode) vs nginx (sendfile), on one machine, in one run.

Starts a real Distribution upstream holding generated images, then Distribution in proxy mode and
Cistern side by side in front of it, plus nginx serving one cached blob file with sendfile as the
physical limit. Measures, over several runs (medians), and prints a table with ratios:

  1. upstream blob GETs during 8 concurrent cold pulls of the same image (goal: one per blob)
  2. cold pull wall time, 8 concurrent clients (skopeo)
  3. warm pull wall time, 8 concurrent clients (skopeo)
  4. warm big-blob throughput, 1 and 16 clients (curl; goal >= 0.9x nginx)
  5. warm manifest GET by tag, requests/s at 64 connections (wrk; goal >= 0.8x nginx serving the
     same bytes, with Cistern's access log on as shipped)
 5b. bytes Cistern's JVM allocates per such request, all threads (JFR's per-thread allocation
     totals around a short wrk run, taken last so the recording weighs on no other row): a
     steadier figure than requests/s on a shared machine, for work on row 5
  6. peak RSS of each server while 64 clients stream the big blob (goal <= 300 MiB for Cistern)
  7. start to first answer on /v2/: from the exec of a fresh process to the first HTTP answer
     (goal <= 0.4 s for Cistern with its default JVM options and class-data archive)
  8. resident memory at idle: VmRSS of that fresh process 6 s after its first answer (goal <= 64
     MiB for Cistern): a JVM returns its compilers' freed work areas to the system on a fixed
     5-second timer, so until then it holds ~2 MiB of a start's compilations that idle does not
  9. how long a new client waits for /v2/ and a cached manifest while 64, 256 and 512 clients
     stream the big blob, worst of five tries (goal: well under a second, whatever the number)

The cold path (rows 10, --cold for these alone), the same client (puller.py) pulling never-pulled
images directly from the upstream, through Distribution and through Cistern, in turns; each
proxy's penalty is its time minus the direct pull's (goal: Cistern's <= 0.5x Distribution's with a
warmed JVM, <= 1x right after a start):
 10a. 1 client, a 5x10 MiB image, servers warmed on other images   10b. the same, a fresh process
 10c. 8 clients at once, the same image   10d. 1 client, a 400+100 MiB image
 10e/f. per blob of 10a: time to first byte, and how long the last byte came after the rest

Behind a shaped link (rows 11, --wan for these alone): the upstream behind wan_relay.py (200
Mbit/s shared downstream, 5 ms each way), fresh proxies each sample:
 11a. 8 cold pulls at once through each proxy vs one direct pull (goal: Cistern <= 1.2x)
 11b. the MiB that crossed the link for them
 11c. the last 1 MiB of a cold 400 MiB layer asked with Range, vs the same range direct (goal <= 2x)

Writes the numbers as JSON beside the table, with every sample. Everything listens on 127.0.0.1 only.

--soak [MINUTES] instead runs one Cistern under a mixed load (cold and warm pulls, manifest GETs,
big-blob streams, clients that hang up mid-body) and samples its RSS and heap; see "soak" below.

--cluster instead compares a cluster (three members sharing an S3 bucket, s3proxy in a JVM of its
own) with a single node, on the same images and upstream: upstream GETs, cold and warm wall times,
a new node's first pull, and where the bytes served came from; see "cluster" below.
Standard library only; needs docker-registry, skopeo, nginx, wrk, curl, ss and a built cistern.jar.
"""
import argparse
import concurrent.futures
import hashlib
import http.client
import json
import multiprocessing
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import puller

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAR = os.path.join(ROOT, "proxy-server", "target", "cistern.jar")
ARCHIVE = os.path.join(ROOT, "proxy-server", "target", "cistern.jsa")
MiB = 1 << 20

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST,
                    "application/vnd.docker.distribution.manifest.list.v2+json",
                    "application/vnd.docker.distribution.manifest.v2+json"])

FULL = dict(runs=3, small=(5, 200 * 1024), medium=(5, 10 * MiB), big=500 * MiB, platform=(2, MiB),
            wrk_seconds=10, wrk_warmup_seconds=10, clients=8, stream_clients=64, stream_repeats=5, starts=5,
            idle_settle_s=6.0, newcomer_streams=(64, 256, 512), newcomer_probes=5,
            # Rows 10 (cold path): samples per row, in turns; the 5-layer and the 500 MiB image;
            # images each server pulls first, so its JVM has run (and the JIT compiled) the miss
            # path: with fewer, the JIT was still compiling the data path in the first samples.
            cold=dict(samples=7, clients=8, clients_samples=5, big_samples=3, start_samples=5,
                      layers=(5, 10 * MiB), big=(400 * MiB, 100 * MiB), warm_images=16, warm_layers=(5, 2 * MiB),
                      parallel=3),
            # Rows 11 (behind a shaped link): see wan_relay.py; the tail range a lazy-pull reader asks
            # first. Fewer warm-up images: through the link they cost seconds, and the link dominates.
            wan=dict(samples=3, clients=8, rate_mbit=200.0, delay_ms=5.0, tail=MiB, warm_images=2))
SMOKE = dict(runs=1, small=(2, 20 * 1024), medium=(2, MiB), big=16 * MiB, platform=(1, 64 * 1024),
             wrk_seconds=1, wrk_warmup_seconds=0, clients=4, stream_clients=8, stream_repeats=1, starts=1,
             idle_settle_s=0.5, newcomer_streams=(8,), newcomer_probes=2,
             cold=dict(samples=1, clients=4, clients_samples=1, big_samples=1, start_samples=1,
                       layers=(5, 256 * 1024), big=(4 * MiB, MiB), warm_images=1, warm_layers=(2, 16 * 1024),
                       parallel=3),
             wan=dict(samples=1, clients=4, rate_mbit=200.0, delay_ms=5.0, tail=256 * 1024, warm_images=1))
GROUPS = ("standard", "cold", "wan")


# ---------------------------------------------------------------- images

class Layout:
    """An OCI image layout written with random (incompressible) layers."""

    def __init__(self, path):
        self.path = path
        self.blobs = os.path.join(path, "blobs", "sha256")
        os.makedirs(self.blobs)
        self.index = []

    def blob(self, data, media_type):
        digest = hashlib.sha256(data).hexdigest()
        with open(os.path.join(self.blobs, digest), "wb") as f:
            f.write(data)
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": len(data)}

    def random_blob(self, size, media_type):
        sha = hashlib.sha256()
        tmp = os.path.join(self.blobs, "incoming")
        with open(tmp, "wb") as f:
            left = size
            while left > 0:
                chunk = os.urandom(min(left, 4 * MiB))
                sha.update(chunk)
                f.write(chunk)
                left -= len(chunk)
        digest = sha.hexdigest()
        os.rename(tmp, os.path.join(self.blobs, digest))
        return {"mediaType": media_type, "digest": "sha256:" + digest, "size": size}

    def image(self, name, layers, layer_size, arch="amd64"):
        return self.image_of(name, [layer_size] * layers, arch)

    def image_of(self, name, layer_sizes, arch="amd64"):
        # The name makes every image's config distinct, so no blob is shared between images.
        config = json.dumps({"architecture": arch, "os": "linux", "config": {"Labels": {"image": name}},
                             "rootfs": {"type": "layers", "diff_ids": []}}).encode()
        manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST,
                    "config": self.blob(config, "application/vnd.oci.image.config.v1+json"),
                    "layers": [self.random_blob(size, "application/vnd.oci.image.layer.v1.tar+gzip")
                               for size in layer_sizes]}
        return self.blob(json.dumps(manifest).encode(), OCI_MANIFEST), manifest

    def tag(self, name, descriptor):
        entry = dict(descriptor)
        entry["annotations"] = {"org.opencontainers.image.ref.name": name}
        self.index.append(entry)

    def finish(self):
        with open(os.path.join(self.path, "index.json"), "w") as f:
            json.dump({"schemaVersion": 2, "manifests": self.index}, f)
        with open(os.path.join(self.path, "oci-layout"), "w") as f:
            f.write('{"imageLayoutVersion":"1.0.0"}')


def build_images(work, sizes, groups):
    """The images the row groups asked for pull, as (descriptor, manifest) by tag. No blob is
    shared between two images, so every image is cold wherever it was not pulled before."""
    layout = Layout(os.path.join(work, "layout"))
    images = {}

    def add(name, layer_sizes):
        descriptor, manifest = layout.image_of(name, layer_sizes)
        layout.tag(name, descriptor)
        images[name] = (descriptor, manifest)

    add("small", [sizes["small"][1]] * sizes["small"][0])
    if "standard" in groups or "cluster" in groups:
        add("medium", [sizes["medium"][1]] * sizes["medium"][0])
    if "standard" in groups:
        add("big", [sizes["big"]])
        children = []
        for arch in ("amd64", "arm64"):
            child, _ = layout.image("multi-" + arch, *sizes["platform"], arch=arch)
            child["platform"] = {"os": "linux", "architecture": arch}
            children.append(child)
        index = layout.blob(json.dumps({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}).encode(),
                            OCI_INDEX)
        layout.tag("multi", index)
        images["multi"] = (index, None)
    cold = sizes["cold"]
    if "cold" in groups or "wan" in groups:
        # One image per sample and row, cold for every server: the cold rows' servers stay up
        # (a warmed JVM) while their caches fill. The WAN rows start fresh servers each sample
        # and reuse the first of each.
        for k in range(cold["warm_images"]):
            add("warm-%d" % k, [cold["warm_layers"][1]] * cold["warm_layers"][0])
        for i in range(cold["samples"] if "cold" in groups else 1):
            add("cold1-%d" % i, [cold["layers"][1]] * cold["layers"][0])
        for i in range(cold["big_samples"] if "cold" in groups else 1):
            add("coldbig-%d" % i, list(cold["big"]))
    if "cold" in groups:
        for i in range(cold["clients_samples"]):
            add("cold8-%d" % i, [cold["layers"][1]] * cold["layers"][0])
    layout.finish()
    return layout.path, images


# ---------------------------------------------------------------- servers

class Server:
    def __init__(self, name, args, cwd, ready, env=None):
        self.name = name
        self.log = open(os.path.join(cwd, name + ".log"), "w+")
        self.process = subprocess.Popen(args, cwd=cwd, stdout=self.log, stderr=subprocess.STDOUT,
                                        env=dict(os.environ, **(env or {})))
        self.port = self._wait(ready)

    def _wait(self, pattern):
        deadline = time.time() + 60
        while time.time() < deadline:
            self.log.flush()
            with open(self.log.name) as f:
                match = re.search(pattern, f.read())
            if match:
                return int(match.group(1))
            if self.process.poll() is not None:
                raise RuntimeError(self.name + " exited; see " + self.log.name)
            time.sleep(0.05)
        raise RuntimeError(self.name + " did not start; see " + self.log.name)

    def text(self):
        with open(self.log.name) as f:
            return f.read()

    def stop(self):
        self.process.terminate()
        try:
            self.process.wait(20)
        except subprocess.TimeoutExpired:
            self.process.kill()


def distribution(work, name, proxy_of=None):
    root = os.path.join(work, name)
    os.makedirs(root, exist_ok=True)
    config = os.path.join(root, "config.yml")
    with open(config, "w") as f:
        f.write("version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n"
                "http:\n  addr: 127.0.0.1:0\n" % root)
        if proxy_of:
            f.write("proxy:\n  remoteurl: %s\n" % proxy_of)
    return Server(name, ["docker-registry", "serve", config], root, r"listening on 127\.0\.0\.1:(\d+)")


def cistern(work, name, upstream_url):
    root = os.path.join(work, name)
    os.makedirs(root, exist_ok=True)
    config = os.path.join(root, "cistern.yml")
    with open(config, "w") as f:
        # Port 0 for both listeners: two benches (or a bench and a running Cistern) on one machine
        # must not collide on the admin port's default.
        f.write("server:\n  address: 127.0.0.1\n  port: 0\nadmin:\n  address: 127.0.0.1\n  port: 0\n"
                "cache:\n  directory: %s/cache\n"
                "upstreams:\n  - host: upstream.bench\n    url: %s\n" % (root, upstream_url))
        if os.environ.get("CISTERN_BENCH_EXTRA_YAML"):
            f.write(os.environ["CISTERN_BENCH_EXTRA_YAML"] + "\n")
    return Server(name, cistern_command(config), root, r"registry listening on \S*:(\d+)")


def cistern_command(config):
    """What scripts/run.sh runs: its JVM flags, the build's class-data archive and SQLite library
    (CISTERN_JAVA_OPTS replaces the flags for experiments)."""
    with open(os.path.join(ROOT, "scripts", "jvm-options")) as f:
        java_opts = os.environ.get("CISTERN_JAVA_OPTS", f.read()).split()
    sqlite_native = os.path.join(os.path.dirname(JAR), "sqlite-native", "org", "sqlite", "native", "Linux",
                                 os.uname().machine)
    return ["java"] + java_opts + ["-XX:SharedArchiveFile=" + ARCHIVE, "-Dorg.sqlite.lib.path=" + sqlite_native,
                                   "-jar", JAR, "--config", config]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def nginx(work, blob_path):
    root = os.path.join(work, "nginx")
    os.makedirs(os.path.join(root, "www"), exist_ok=True)
    os.makedirs(os.path.join(root, "tmp"), exist_ok=True)
    os.link(blob_path, os.path.join(root, "www", "blob")) if not os.path.exists(os.path.join(root, "www", "blob")) else None
    port = free_port()
    config = os.path.join(root, "nginx.conf")
    with open(config, "w") as f:
        # As root, nginx's workers would drop to an account that cannot read the private work dir.
        f.write("user root;\n" if os.geteuid() == 0 else "")
        f.write("""daemon off; worker_processes 2; pid %(r)s/nginx.pid; error_log %(r)s/error.log;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; keepalive_requests 100000;
  client_body_temp_path %(r)s/tmp; proxy_temp_path %(r)s/tmp; fastcgi_temp_path %(r)s/tmp;
  uwsgi_temp_path %(r)s/tmp; scgi_temp_path %(r)s/tmp;
  server { listen 127.0.0.1:%(p)d; root %(r)s/www; location / { default_type application/octet-stream; } } }
""" % {"r": root, "p": port})
    process = subprocess.Popen(["nginx", "-c", config, "-p", root], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    for _ in range(200):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                break
        except OSError:
            time.sleep(0.05)
    return process, port


# ---------------------------------------------------------------- clients

def skopeo(work, args):
    home = os.path.join(work, "skopeo-home")
    env = dict(os.environ, HOME=home, XDG_RUNTIME_DIR=home + "/run", TMPDIR=home + "/tmp",
               XDG_DATA_HOME=home + "/data", XDG_CONFIG_HOME=home + "/config")
    for d in ("run", "tmp", "data", "config"):
        os.makedirs(os.path.join(home, d), exist_ok=True)
    result = subprocess.run(["skopeo", "--insecure-policy"] + args, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        raise RuntimeError("skopeo %s failed: %s" % (" ".join(args), result.stderr))


def concurrent_pulls(work, port, tag, clients, label):
    """`clients` skopeo pulls of one image at once; returns the wall time in seconds."""
    def pull(i):
        out = os.path.join(work, "pulls", "%s-%s-%d" % (label, tag, i))
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        args = ["copy", "--src-tls-verify=false"]
        if tag == "multi":
            args.append("--all")
        skopeo(work, args + ["docker://127.0.0.1:%d/bench/images:%s" % (port, tag), "dir:" + out])
        shutil.rmtree(out, ignore_errors=True)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(pull, range(clients)))
    return time.monotonic() - start


def stream(url, clients, seconds_budget=None):
    """`clients` curls downloading `url` at once; returns aggregate bytes per second."""
    start = time.monotonic()
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", "-w", "%{size_download}", url],
                              stdout=subprocess.PIPE, text=True) for _ in range(clients)]
    total = sum(int(p.communicate()[0] or 0) for p in procs)
    return total / (time.monotonic() - start)


def wrk(url, seconds):
    out = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % seconds, "-H", "Accept: " + ACCEPT, url],
                         capture_output=True, text=True).stdout
    match = re.search(r"Requests/sec:\s+([\d.]+)", out)
    non2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if not match or non2xx:
        raise RuntimeError("wrk against %s failed:\n%s" % (url, out))
    return float(match.group(1))


def newcomer_ms(port, blob_url, manifest_path, streams, probes):
    """Milliseconds a new client waits for GET /v2/ and a cached manifest (one connection, both
    answers read whole) while `streams` curls pull the big blob as fast as they can: `probes`
    tries, spaced out, from once every stream's connection is up; the streams are then stopped."""
    procs = [subprocess.Popen(["curl", "-s", "-o", "/dev/null", blob_url]) for _ in range(streams)]
    try:
        deadline = time.monotonic() + 60
        while connections_to(port) < streams and time.monotonic() < deadline:
            time.sleep(0.05)
        samples = []
        for _ in range(probes):
            start = time.monotonic()
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
            try:
                for path in ("/v2/", manifest_path):
                    connection.request("GET", path, headers={"Accept": ACCEPT})
                    response = connection.getresponse()
                    response.read()
                    if response.status != 200:
                        raise RuntimeError("GET %s answered %d under %d streams" % (path, response.status, streams))
            finally:
                connection.close()
            samples.append((time.monotonic() - start) * 1000)
            time.sleep(0.2)
        if any(p.poll() is not None for p in procs):
            print("WARNING: some of the %d streams ended before the new client's probes did" % streams, file=sys.stderr)
        return samples
    finally:
        for p in procs:
            p.kill()
        for p in procs:
            p.wait()


def connections_to(port):
    """Established client connections to `port` on this machine (accepted by the server or not)."""
    out = subprocess.run(["ss", "-Htn", "state", "established", "( dport = :%d )" % port],
                         capture_output=True, text=True).stdout
    return len(out.splitlines())


def peak_rss_while(pid, action):
    """Peak resident set of `pid` (MiB) while `action` runs, from VmHWM after a reset."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        resettable = True
    except OSError:
        resettable = False
    peak = [0]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss(pid, "VmRSS"))
            time.sleep(0.02)
    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        action()
    finally:
        done.set()
        sampler.join()
    if resettable:
        peak[0] = max(peak[0], rss(pid, "VmHWM"))
    return peak[0]


def rss(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return 0.0


def blob_gets(log_text):
    return len(re.findall(r'"GET /v2/bench/images/blobs/sha256:', log_text))


# ---------------------------------------------------------------- the run

def one_run(work, upstream, images, settings, run):
    """Every measure once, for each server; throughput is interleaved across servers."""
    results = {"distribution": {}, "cistern": {}, "nginx": {}}
    big_digest = images["big"][1]["layers"][0]["digest"]
    servers = {
        "distribution": distribution(work, "distribution-%d" % run, proxy_of="http://127.0.0.1:%d" % upstream.port),
        "cistern": cistern(work, "cistern-%d" % run, "http://127.0.0.1:%d" % upstream.port),
    }
    nginx_process = None
    try:
        for label, server in servers.items():
            r = results[label]
            # "Cold" means a cold cache, not a cold process: warm the server up on another image.
            concurrent_pulls(work, server.port, "small", 2, label + "-warmup")
            before = blob_gets(upstream.text())
            r["cold_pull_s"] = concurrent_pulls(work, server.port, "medium", settings["clients"], label + "-cold")
            r["upstream_blob_gets_cold"] = blob_gets(upstream.text()) - before
            r["warm_pull_s"] = concurrent_pulls(work, server.port, "medium", settings["clients"], label + "-warm")
            concurrent_pulls(work, server.port, "multi", 2, label + "-multi")
            concurrent_pulls(work, server.port, "big", 1, label + "-big")
        cached_blob = os.path.join(work, "cistern-%d" % run, "cache", "blobs", "sha256",
                                   big_digest[7:9], big_digest[7:])
        nginx_process, nginx_port = nginx(os.path.join(work, "nginx-%d" % run), cached_blob)
        urls = {label: "http://127.0.0.1:%d/v2/bench/images/blobs/%s" % (server.port, big_digest)
                for label, server in servers.items()}
        urls["nginx"] = "http://127.0.0.1:%d/blob" % nginx_port
        # One stream's rate swings by tens of percent between runs on a shared VM: take the
        # median of several, taken in turns, so drift hits every server alike.
        for clients, key in ((1, "big_blob_1_client_MiBps"), (16, "big_blob_16_clients_MiBps")):
            samples = {label: [] for label in urls}
            for _ in range(settings["stream_repeats"]):
                for label, url in urls.items():
                    samples[label].append(stream(url, clients) / MiB)
            for label in urls:
                results[label][key] = statistics.median(samples[label])
        for label, rps in manifest_by_tag(work, servers, run, settings).items():
            results[label]["manifest_rps_64"] = rps
        for label, server in servers.items():
            results[label]["peak_rss_MiB"] = peak_rss_while(
                server.process.pid, lambda: stream(urls[label], settings["stream_clients"]))
        for streams in settings["newcomer_streams"]:
            for label, server in servers.items():
                manifest_path = "/v2/bench/images/manifests/small"
                samples = newcomer_ms(server.port, urls[label], manifest_path, streams, settings["newcomer_probes"])
                # The worst try: the first one, while the streams' own connections are still being
                # taken, is where a server that accepts on busy loops makes a newcomer wait.
                results[label]["newcomer_ms_%d" % streams] = max(samples)
                results[label]["newcomer_ms_%d_samples" % streams] = samples
        # Last: the recording's classes and buffers stay in the process and would weigh on any
        # measure after it.
        results["cistern"]["manifest_alloc_bytes"] = allocated_per_request(
            work, servers["cistern"], "http://127.0.0.1:%d/v2/bench/images/manifests/small" % servers["cistern"].port,
            settings["wrk_seconds"])
    except Exception:
        # A failed step says little by itself: show what each server said, and whether it still runs.
        for label, server in servers.items():
            print("---- %s (%s) log tail:" % (label, "running" if server.process.poll() is None
                                                else "exited %s" % server.process.returncode), file=sys.stderr)
            print("\n".join(server.text().splitlines()[-40:]), file=sys.stderr)
        raise
    finally:
        for server in servers.values():
            server.stop()
        if nginx_process:
            nginx_process.terminate()
            nginx_process.wait()
    for label, (seconds, rss_mib) in fresh_starts(work, upstream, settings, run).items():
        results[label]["start_to_first_answer_s"] = seconds
        results[label]["idle_rss_MiB"] = rss_mib
    return results


def manifest_by_tag(work, servers, run, settings):
    """Requests/s of a cached manifest fetched by tag, and of nginx serving the same bytes from a
    file (sendfile, access log off), after an uncounted warm-up load; Cistern's access log is on,
    as shipped. In turns."""
    urls = {label: "http://127.0.0.1:%d/v2/bench/images/manifests/small" % server.port
            for label, server in servers.items()}
    request = urllib.request.Request(urls["cistern"], headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request) as response:
        body = response.read()
    root = os.path.join(work, "manifest-nginx-%d" % run)
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "manifest"), "wb") as f:
        f.write(body)
    process, port = nginx(root, os.path.join(root, "manifest"))
    urls["nginx"] = "http://127.0.0.1:%d/blob" % port
    try:
        # "Warm" means a warm path too: the JIT compiles it during an uncounted first load.
        if settings["wrk_warmup_seconds"]:
            for url in urls.values():
                wrk(url, settings["wrk_warmup_seconds"])
        return {label: wrk(url, settings["wrk_seconds"]) for label, url in urls.items()}
    finally:
        process.terminate()
        process.wait()


def allocated_per_request(work, server, url, seconds):
    """Bytes a JVM server allocates per request of url, all its threads together: JFR's per-thread
    allocation totals (emitted every second) before and after a wrk run, the server idle around it."""
    settings = os.path.join(work, "allocation.jfc")
    with open(settings, "w") as f:
        f.write('<?xml version="1.0" encoding="UTF-8"?>\n<configuration version="2.0">\n'
                '  <event name="jdk.ThreadAllocationStatistics"><setting name="enabled">true</setting>'
                '<setting name="period">1 s</setting></event>\n</configuration>\n')
    pid = str(server.process.pid)
    subprocess.run(["jcmd", pid, "JFR.start", "name=allocation", "settings=" + settings],
                   check=True, capture_output=True)

    def totals(tag):
        # Past the next periodic event, so the totals read are at most a quiet second old.
        time.sleep(1.5)
        recording = os.path.join(work, "allocation-%s-%d.jfr" % (tag, server.process.pid))
        subprocess.run(["jcmd", pid, "JFR.dump", "name=allocation", "filename=" + recording],
                       check=True, capture_output=True)
        printed = subprocess.run(["jfr", "print", "--json", "--events", "jdk.ThreadAllocationStatistics", recording],
                                 check=True, capture_output=True, text=True).stdout
        latest = {}
        for event in json.loads(printed)["recording"]["events"]:
            thread = event["values"]["thread"]
            latest[thread["javaThreadId"] if thread else None] = event["values"]["allocated"]
        return latest

    try:
        before = totals("before")
        out = subprocess.run(["wrk", "-t2", "-c64", "-d%ds" % seconds, "-H", "Accept: " + ACCEPT, url],
                             capture_output=True, text=True).stdout
        requests = int(re.search(r"(\d+) requests in", out).group(1))
        after = totals("after")
    finally:
        subprocess.run(["jcmd", pid, "JFR.stop", "name=allocation"], capture_output=True)
    return sum(total - before.get(thread, 0) for thread, total in after.items()) / requests


def fresh_starts(work, upstream, settings, run):
    """Start to first answer on /v2/ and resident memory at idle of fresh Cistern and Distribution
    processes (proxy mode, same upstream), measured alike: the clock starts at the exec, /v2/ is
    asked in a tight connect loop, and VmRSS is read a settle time after the first answer (any
    HTTP status). Median of `starts` processes each, started in turns."""
    samples = {"cistern": [], "distribution": []}
    upstream_url = "http://127.0.0.1:%d" % upstream.port
    for i in range(settings["starts"]):
        for label in samples:
            root = os.path.join(work, "fresh-%s-%d-%d" % (label, run, i))
            port, command = fresh_server(label, root, upstream_url)
            samples[label].append(first_answer_and_idle_rss(command, root, port, settings["idle_settle_s"]))
    return {label: (statistics.median(s for s, _ in values), statistics.median(r for _, r in values))
            for label, values in samples.items()}


def fresh_server(label, root, upstream_url):
    """(port, command) of a Cistern or a Distribution in proxy mode on a fixed free port, with an
    empty cache in `root`, not started yet."""
    os.makedirs(root)
    port = free_port()
    config = os.path.join(root, "config.yml")
    with open(config, "w") as f:
        if label == "cistern":
            f.write("server:\n  address: 127.0.0.1\n  port: %d\nadmin:\n  address: 127.0.0.1\n  port: 0\n"
                    "cache:\n  directory: %s/cache\nupstreams:\n  - host: upstream.bench\n    url: %s\n"
                    % (port, root, upstream_url))
        else:
            f.write("version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: %s/data\n"
                    "http:\n  addr: 127.0.0.1:%d\nproxy:\n  remoteurl: %s\n" % (root, port, upstream_url))
    return port, cistern_command(config) if label == "cistern" else ["docker-registry", "serve", config]


def await_first_answer(process, port, deadline_s=60):
    """Asks /v2/ in a tight connect loop until any HTTP answer; the seconds it took."""
    start = time.monotonic()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(16).startswith(b"HTTP/1."):
                    return time.monotonic() - start
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() - start > deadline_s:
            raise RuntimeError("the server on port %d did not answer" % port)
        time.sleep(0.001)


def first_answer_and_idle_rss(command, cwd, port, settle_s):
    """(seconds from exec to the first HTTP answer on /v2/, VmRSS in MiB settle_s after it)."""
    with open(os.path.join(cwd, "server.log"), "w") as log:
        start = time.monotonic()
        process = subprocess.Popen(command, cwd=cwd, stdout=log, stderr=subprocess.STDOUT)
        try:
            try:
                await_first_answer(process, port)
            except RuntimeError:
                raise RuntimeError("%s did not answer; see %s/server.log" % (command[0], cwd)) from None
            elapsed = time.monotonic() - start
            time.sleep(settle_s)
            return elapsed, rss(process.pid, "VmRSS")
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


# ---------------------------------------------------------------- rows 10: the cold path
#
# Pulled with the lean puller (puller.py), the same client for the upstream itself ("direct"),
# Distribution in proxy mode and Cistern, in turns. A cold row's figure is the pull's wall time;
# its penalty is the proxy's time minus the direct pull's in the same turn, and the table shows
# the median of those differences (paired, so drift between turns hits both sides alike).

SIDES = ("direct", "distribution", "cistern")
NAME = "bench/images"


def _pull_job(job):
    port, tag, parallel = job
    return puller.pull(port, NAME, tag, parallel)


class Pullers:
    """Client processes forked before the clock starts, so a pull's time holds no process start;
    one process per client, so concurrent clients do not share an interpreter lock."""

    def __init__(self, processes, parallel):
        self.pool = multiprocessing.get_context("fork").Pool(processes)
        self.parallel = parallel

    def pulls(self, port, tag, clients):
        """`clients` pulls of `tag` at once; (wall seconds from the first start to the last end,
        the pulls' results)."""
        results = self.pool.map(_pull_job, [(port, tag, self.parallel)] * clients, chunksize=1)
        return max(r["ended_at"] for r in results) - min(r["started_at"] for r in results), results

    def close(self):
        self.pool.terminate()
        self.pool.join()


def in_turns(i):
    """The order of the three sides in turn `i`: rotated, so no side always goes first."""
    return SIDES[i % 3:] + SIDES[:i % 3]


TICKS = os.sysconf("SC_CLK_TCK")


def cpu_seconds(pid):
    """User and system CPU seconds the process `pid` has used; 0 once it has ended."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / TICKS


def settle(pids, quiet_s=0.5, limit_s=120):
    """Waits until the processes `pids` use no CPU for `quiet_s` (one clock tick allowed), then
    flushes the disk: no side's leftover work may fall into the next side's measurement.
    Distribution stores a blob it proxied with a second fetch of its own after its client has the
    blob: seconds of CPU, on two cores, that would otherwise slow whoever pulls next."""
    deadline = time.monotonic() + limit_s
    last = sum(cpu_seconds(pid) for pid in pids)
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = sum(cpu_seconds(pid) for pid in pids)
        if now - last <= 1.0 / TICKS:
            break
        last = now
    # The proxies' writes of one turn must not be flushed during the next one's measurement.
    os.sync()


def page_cache_cost(work, size=2 << 30, step=256 * MiB):
    """Kernel seconds per GiB to write into the page cache: (the first `step` of a new file of
    `size` bytes, its last `step`, `step` written again right after deleting it). On a virtual
    machine whose host takes back memory the guest has freed (a balloon's free page reporting),
    a page the guest has not used for a while must first be provided by the host: writing into
    such pages can cost ten times writing into pages just freed. A proxy that writes a blob before
    its client reads it pays this on the client's path; one that streams to the client and stores
    afterwards pays it later."""
    chunk = bytes(MiB)

    def write(path, total):
        costs = []
        with open(path, "wb") as f:
            for _ in range(total // step):
                before = os.times().system
                for _ in range(step // MiB):
                    f.write(chunk)
                f.flush()
                costs.append((os.times().system - before) * (1 << 30) / step)
        return costs

    path = os.path.join(work, "page-probe")
    new = write(path, size)
    os.remove(path)
    again = write(path, step)
    os.remove(path)
    return new[0], new[-1], again[0]


def cold_path(work, upstream, settings):
    """Rows 10a-10f: cold pulls of never-pulled images with warmed servers, right after a start,
    with 8 clients, of the 500 MiB image; and, from the 1-client pulls, each blob's time to first
    byte and how long its last byte came after the one before. Returns {key: {side: [samples]}}
    (per-blob figures: {side: [every blob's value]})."""
    c = settings["cold"]
    upstream_url = "http://127.0.0.1:%d" % upstream.port
    out = {key: {side: [] for side in SIDES} for key in
           ("cold_1", "cold_start", "cold_clients", "cold_big", "cold_big_cpu", "blob_ttfb_ms",
            "blob_last_byte_ms")}
    pullers = Pullers(max(c["clients"], 1), c["parallel"])
    try:
        servers = {}
        try:
            servers = {"distribution": distribution(work, "cold-distribution", proxy_of=upstream_url),
                       "cistern": cistern(work, "cold-cistern", upstream_url)}
            ports = {"direct": upstream.port, "distribution": servers["distribution"].port,
                     "cistern": servers["cistern"].port}
            pids = [upstream.process.pid] + [server.process.pid for server in servers.values()]
            # "Cold" means a cold cache, not a cold process: each server has run the miss path on
            # other images first.
            for label in servers:
                for k in range(c["warm_images"]):
                    pullers.pulls(ports[label], "warm-%d" % k, 1)
            for key, tag, samples, clients in (("cold_1", "cold1", c["samples"], 1),
                                               ("cold_clients", "cold8", c["clients_samples"], c["clients"]),
                                               ("cold_big", "coldbig", c["big_samples"], 1)):
                for i in range(samples):
                    for side in in_turns(i):
                        settle(pids)
                        proxy = servers[side].process.pid if side in servers else None
                        before = cpu_seconds(proxy) if proxy else 0
                        seconds, results = pullers.pulls(ports[side], "%s-%d" % (tag, i), clients)
                        out[key][side].append(seconds)
                        if key == "cold_big" and proxy:
                            settle(pids)
                            out["cold_big_cpu"][side].append(cpu_seconds(proxy) - before)
                        if key == "cold_1":
                            blobs = results[0]["blobs"]
                            out["blob_ttfb_ms"][side] += [b["ttfb_s"] * 1000 for b in blobs]
                            out["blob_last_byte_ms"][side] += [b["last_byte_s"] * 1000 for b in blobs]
        finally:
            for server in servers.values():
                server.stop()
        # Right after a start: a fresh process (empty cache) per sample, pulled as soon as /v2/
        # answers.
        for i in range(c["start_samples"]):
            for side in in_turns(i):
                settle([upstream.process.pid])
                if side == "direct":
                    out["cold_start"][side].append(pullers.pulls(upstream.port, "cold1-0", 1)[0])
                    continue
                root = os.path.join(work, "cold-start-%s-%d" % (side, i))
                port, command = fresh_server(side, root, upstream_url)
                with open(os.path.join(root, "server.log"), "w") as log:
                    process = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT)
                try:
                    await_first_answer(process, port)
                    out["cold_start"][side].append(pullers.pulls(port, "cold1-0", 1)[0])
                finally:
                    process.terminate()
                    try:
                        process.wait(20)
                    except subprocess.TimeoutExpired:
                        process.kill()
    finally:
        pullers.close()
    return out


# ---------------------------------------------------------------- rows 11: behind a shaped link

class Link:
    """The upstream behind wan_relay.py: one shared token bucket downstream, added latency."""

    def __init__(self, work, upstream_port, rate_mbit, delay_ms):
        root = os.path.join(work, "wan-relay")
        os.makedirs(root, exist_ok=True)
        self.stats = os.path.join(root, "stats.json")
        self.server = Server("wan-relay", [sys.executable, os.path.join(ROOT, "bench", "wan_relay.py"),
                                           "--target", "127.0.0.1:%d" % upstream_port, "--rate-mbit", str(rate_mbit),
                                           "--delay-ms", str(delay_ms), "--stats", self.stats],
                             root, r"relay listening on 127\.0\.0\.1:(\d+)")
        self.port = self.server.port

    def bytes_down(self):
        for _ in range(100):
            try:
                with open(self.stats) as f:
                    return json.load(f)["down"]
            except (OSError, ValueError):
                time.sleep(0.05)
        raise RuntimeError("the relay wrote no counters; see " + self.server.log.name)

    def quiet(self, idle_s=0.5, limit_s=600):
        """Waits until nothing crossed the link for `idle_s` (a proxy's download that outlived its
        client's answer has ended); returns the bytes that crossed it so far."""
        deadline = time.monotonic() + limit_s
        last, since = self.bytes_down(), time.monotonic()
        while time.monotonic() < deadline:
            time.sleep(0.1)
            now = self.bytes_down()
            if now != last:
                last, since = now, time.monotonic()
            elif time.monotonic() - since >= idle_s:
                return now
        raise RuntimeError("the shaped link never went quiet")

    def stop(self):
        self.server.stop()


def wan(work, upstream, images, settings):
    """Rows 11a-11c behind the shaped link: `clients` cold pulls at once through each proxy
    against one direct pull, with the bytes that crossed the link; and the tail of a cold 400 MiB
    layer asked with Range (the last `tail` bytes) through each proxy against the same range
    direct. Fresh proxies each sample (empty caches), warmed on small images through the link.
    Returns {key: {side: [samples]}}."""
    w, c = settings["wan"], settings["cold"]
    link = Link(work, upstream.port, w["rate_mbit"], w["delay_ms"])
    upstream_url = "http://127.0.0.1:%d" % link.port
    layer = images["coldbig-0"][1]["layers"][0]
    with open(os.path.join(work, "layout", "blobs", "sha256", layer["digest"][7:]), "rb") as f:
        f.seek(layer["size"] - w["tail"])
        tail = f.read()
    first, last = layer["size"] - w["tail"], layer["size"] - 1
    out = {key: {side: [] for side in SIDES} for key in ("wan_pulls_s", "wan_link_MiB", "wan_tail_s")}
    out["wan_tail_status"] = {side: [] for side in SIDES}
    pullers = Pullers(max(w["clients"], 1), c["parallel"])
    try:
        for i in range(w["samples"]):
            servers = {}
            try:
                servers = {"distribution": distribution(work, "wan-distribution-%d" % i, proxy_of=upstream_url),
                           "cistern": cistern(work, "wan-cistern-%d" % i, upstream_url)}
                ports = {"direct": link.port, "distribution": servers["distribution"].port,
                         "cistern": servers["cistern"].port}
                for label in servers:
                    for k in range(min(w["warm_images"], c["warm_images"])):
                        pullers.pulls(ports[label], "warm-%d" % k, 1)
                for side in in_turns(i):
                    before = link.quiet()
                    clients = 1 if side == "direct" else w["clients"]
                    out["wan_pulls_s"][side].append(pullers.pulls(ports[side], "cold1-0", clients)[0])
                    out["wan_link_MiB"][side].append((link.quiet() - before) / MiB)
                for side in in_turns(i):
                    link.quiet()
                    ranged = puller.ranged_get(ports[side], NAME, layer["digest"], first, last, tail)
                    out["wan_tail_s"][side].append(ranged["seconds"])
                    out["wan_tail_status"][side].append(ranged["status"])
                link.quiet()
            finally:
                for server in servers.values():
                    server.stop()
    finally:
        pullers.close()
        link.stop()
    return out


# Goals: (what is compared, how, bound). "ref": Cistern over the row's reference (nginx for rows
# 4-5, the direct pull for rows 11); "value": Cistern's own figure; "penalty": Cistern's penalty
# over Distribution's (rows 10).
ROWS = [
    ("upstream_blob_gets_cold", "1. upstream blob GETs, %(clients)d cold pulls", None),
    ("cold_pull_s", "2. cold pull wall time, %(clients)d clients (s)", None),
    ("warm_pull_s", "3. warm pull wall time, %(clients)d clients (s)", None),
    ("big_blob_1_client_MiBps", "4a. big blob, 1 client (MiB/s)", ("ref", ">=", 0.9)),
    ("big_blob_16_clients_MiBps", "4b. big blob, 16 clients (MiB/s)", ("ref", ">=", 0.9)),
    ("manifest_rps_64", "5. manifest GETs/s by tag, 64 conns", ("ref", ">=", 0.8)),
    ("manifest_alloc_bytes", "5b. bytes allocated per manifest GET", None),
    ("peak_rss_MiB", "6. peak RSS, %(stream_clients)d streams (MiB)", ("value", "<=", 300)),
    ("start_to_first_answer_s", "7. start to first answer on /v2/ (s)", ("value", "<=", 0.4)),
    ("idle_rss_MiB", "8. resident memory at idle (MiB)", ("value", "<=", 64)),
]
COLD_ROWS = [
    ("cold_1", "10a. cold pull, 1 client, %(image)s (s)", ("penalty", "<=", 0.5)),
    ("cold_start", "10b. the same, right after a start (s)", ("penalty", "<=", 1.0)),
    ("cold_clients", "10c. cold pull, %(cold_clients)d clients, %(image)s (s)", ("penalty", "<=", 0.5)),
    ("cold_big", "10d. cold pull, 1 client, %(big_image)s (s)", ("penalty", "<=", 0.5)),
    ("cold_big_cpu", "10g. proxy CPU per 10d pull, incl. after it (s)", None),
    ("blob_ttfb_ms", "10e. blob time to first byte, 10a (ms)", None),
    ("blob_last_byte_ms", "10f. blob last byte after the rest, 10a (ms)", None),
]
WAN_ROWS = [
    ("wan_pulls_s", "11a. WAN %(wan_clients)d cold pulls; direct: 1 (s)", ("ref", "<=", 1.2)),
    ("wan_link_MiB", "11b. WAN MiB over the link for 11a", None),
    ("wan_tail_s", "11c. WAN cold range: last %(tail)s of %(tail_of)s (s)", ("ref", "<=", 2.0)),
]
PENALTY_ROWS = ("cold_1", "cold_start", "cold_clients", "cold_big")
NO_RATIO_ROWS = ("blob_last_byte_ms",)


def rows(settings, groups):
    """The rows of the groups run, titles filled in; one row 9 per number of streams a new client
    is timed under."""
    c, w = settings["cold"], settings["wan"]
    mib = lambda n: "%g MiB" % (n / MiB) if n >= MiB else "%g KiB" % (n / 1024)
    names = dict(clients=settings["clients"], stream_clients=settings["stream_clients"],
                 image="%dx%s" % (c["layers"][0], mib(c["layers"][1])), cold_clients=c["clients"],
                 big_image="+".join(mib(n) for n in c["big"]), wan_clients=w["clients"], tail=mib(w["tail"]),
                 tail_of=mib(c["big"][0]))
    chosen = []
    if "standard" in groups:
        chosen += ROWS + [("newcomer_ms_%d" % n, "9. new client, %d streams (ms, worst)" % n, None)
                          for n in settings["newcomer_streams"]]
    if "cold" in groups:
        chosen += COLD_ROWS
    if "wan" in groups:
        chosen += WAN_ROWS
    return [(key, title % names, goal) for key, title, goal in chosen]


def median_of(runs, server, key):
    values = [run[server][key] for run in runs if key in run.get(server, {})]
    return statistics.median(values) if values else None


def summarize(key, runs, samples):
    """One row's figures: medians per side, ratios, penalties, and the samples behind them."""
    if key in samples:
        per_side = samples[key]
        row = {side: statistics.median(v) if v else None for side, v in per_side.items()}
        row["samples"] = per_side
        row["nginx"] = None
    else:
        row = {side: median_of(runs, side, key) for side in ("cistern", "distribution", "nginx")}
        row["direct"] = None
    c, d = row["cistern"], row["distribution"]
    row["cistern_over_distribution"] = c / d if c is not None and d else None
    row["cistern_over_nginx"] = c / row["nginx"] if c is not None and row["nginx"] else None
    row["cistern_over_direct"] = c / row["direct"] if c is not None and row["direct"] else None
    if key in PENALTY_ROWS and row["direct"] is not None:
        # Paired within each turn, so drift between turns hits both sides of a difference alike.
        direct = samples[key]["direct"]
        row["penalty"] = {side: statistics.median(v - base for v, base in zip(samples[key][side], direct))
                          for side in ("distribution", "cistern")}
        pc, pd = row["penalty"]["cistern"], row["penalty"]["distribution"]
        row["cistern_penalty_over_distribution"] = pc / pd if pd > 0 else None
    return row


def judge(row, goal):
    """Whether Cistern's figures meet the row's goal: True, False, or None (not measured)."""
    if goal is None:
        return None
    what, op, bound = goal
    value = {"ref": row.get("cistern_over_nginx") or row.get("cistern_over_direct"),
             "value": row.get("cistern"), "penalty": row.get("cistern_penalty_over_distribution")}[what]
    if value is None:
        # A penalty no larger than zero where Distribution's is positive meets any bound.
        if what == "penalty" and row.get("penalty") and row["penalty"]["cistern"] <= 0:
            return True
        return None
    return value <= bound if op == "<=" else value >= bound


def goal_text(goal):
    if goal is None:
        return ""
    what, op, bound = goal
    op = {"<=": "<=", ">=": ">="}[op]
    return {"ref": "c/ref %s %g", "value": "%s %g", "penalty": "pen %s %gx d"}[what].replace("%s", op, 1) % bound


def fmt(v):
    if v is None:
        return "-"
    if isinstance(v, float):
        return ("%.3f" if abs(v) < 1 else "%.2f" if abs(v) < 1000 else "%.0f") % v
    return str(v)


def report(runs, samples, settings, groups, machine):
    table = {}
    basis = (["%d run(s) for rows 1-9" % len(runs)] if "standard" in groups else []) + (
        ["samples in turns for rows 10-11"] if "cold" in groups or "wan" in groups else [])
    lines = ["", "Cistern vs CNCF Distribution (proxy mode) vs nginx sendfile vs the upstream direct; medians of "
             + ", ".join(basis), "machine: %s" % machine, ""]
    layout = "%-50s %8s %15s %15s %9s %7s %7s %-15s %4s"
    header = layout % ("measure", "direct", "distribution", "cistern", "nginx", "c/d", "c/ref", "goal", "met")
    lines += [header, "-" * len(header)]
    spreads = []
    for key, title, goal in rows(settings, groups):
        row = summarize(key, runs, samples)
        row["goal"] = goal_text(goal) or None
        row["goal_met"] = judge(row, goal)
        table[key] = row
        cells = {side: fmt(row[side]) for side in ("direct", "distribution", "cistern", "nginx")}
        ratio_d = row["cistern_over_distribution"]
        if "penalty" in row:
            for side in ("distribution", "cistern"):
                cells[side] = "%s %+.3f" % (fmt(row[side]), row["penalty"][side])
            ratio_d = row["cistern_penalty_over_distribution"]
        ratio_ref = row["cistern_over_nginx"] if row["cistern_over_nginx"] is not None else row["cistern_over_direct"]
        if key in NO_RATIO_ROWS:
            # Tenths of a millisecond where no byte is held back: a ratio to them means nothing.
            ratio_d = ratio_ref = None
        met = {True: "yes", False: "NO", None: ""}[row["goal_met"]] if goal else ""
        lines.append(layout % (title, cells["direct"], cells["distribution"], cells["cistern"], cells["nginx"],
                               fmt(ratio_d), fmt(ratio_ref), row["goal"] or "", met))
        if "samples" in row:
            spreads.append("  %-6s %s" % (title.split(" ", 1)[0], "; ".join(
                "%s %s-%s (%d)" % (side, fmt(min(v)), fmt(max(v)), len(v))
                for side, v in row["samples"].items() if v)))
    if "cold" in groups or "wan" in groups:
        lines += ["", "rows 10-11: one pulling client for all three sides (bench/puller.py: manifest and blobs, "
                  "%d blobs at a time, digests checked);" % settings["cold"]["parallel"]]
        if "cold" in groups:
            lines += ["  rows 10a-d: '+x' is the penalty, the proxy's time minus the direct pull's in the same turn "
                      "(median), and c/d is Cistern's penalty",
                      "  over Distribution's; c/ref is Cistern over the direct pull. 10e-f: every blob of the 10a pulls.",
                      "  10g: the proxy's CPU from the pull's start until it is idle again (Distribution stores each blob "
                      "with a second fetch",
                      "  after its client has it); every pull waits until all servers are idle."]
        if "wan" in groups:
            lines += ["  rows 11: the upstream behind bench/wan_relay.py, %g Mbit/s shared downstream, %g ms added each "
                      "way; the direct pull goes through it too." % (settings["wan"]["rate_mbit"], settings["wan"]["delay_ms"])]
        lines += ["", "spread of the samples (min-max, count):"] + spreads
    return table, "\n".join(lines)


def machine_description():
    cpus = os.cpu_count()
    with open("/proc/meminfo") as f:
        mem = int(f.readline().split()[1]) // (1024 * 1024)
    return "%d cores, %d GiB RAM, %s" % (cpus, mem, os.uname().release)


# ---------------------------------------------------------------- soak (bench/run.sh --soak MINUTES)
#
# Hours of mixed traffic compressed into minutes, to see whether the process's resident memory
# levels off. A fixed pool of "cold" images larger than the byte cap is pulled round-robin, so
# every pull of it misses (the evictor makes room each time) without the upstream growing; new
# images are still pushed now and then so repositories and tags grow as in production.

SOAK_CAP = 160 * MiB
SOAK_COLD_IMAGES = 32          # x ~5 MiB each: about the cap, so a round-robin pull always misses
SOAK_BIG = 48 * MiB


def soak_push(port, name, tag, layer_sizes):
    """Pushes an image of random layers to a Distribution; returns its descriptor and manifest."""
    def put_blob(data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        post = urllib.request.Request("http://127.0.0.1:%d/v2/%s/blobs/uploads/" % (port, name), method="POST")
        with urllib.request.urlopen(post) as response:
            location = response.headers["Location"]
        if location.startswith("/"):
            location = "http://127.0.0.1:%d%s" % (port, location)
        put = urllib.request.Request(location + ("&" if "?" in location else "?") + "digest=" + digest,
                                     data=data, method="PUT",
                                     headers={"Content-Type": "application/octet-stream"})
        urllib.request.urlopen(put).close()
        return {"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip", "digest": digest, "size": len(data)}
    config = json.dumps({"architecture": "amd64", "os": "linux", "config": {"Labels": {"image": name + tag}},
                         "rootfs": {"type": "layers", "diff_ids": []}}).encode()
    config_descriptor = put_blob(config)
    config_descriptor["mediaType"] = "application/vnd.oci.image.config.v1+json"
    manifest = {"schemaVersion": 2, "mediaType": OCI_MANIFEST, "config": config_descriptor,
                "layers": [put_blob(os.urandom(size)) for size in layer_sizes]}
    data = json.dumps(manifest).encode()
    put = urllib.request.Request("http://127.0.0.1:%d/v2/%s/manifests/%s" % (port, name, tag), data=data,
                                 method="PUT", headers={"Content-Type": OCI_MANIFEST})
    urllib.request.urlopen(put).close()
    return {"digest": "sha256:" + hashlib.sha256(data).hexdigest(), "size": len(data)}, manifest


class SoakClient:
    """One keep-alive connection to Cistern that pulls like a registry client and checks digests."""

    def __init__(self, port):
        self.port = port
        self.connection = None

    def _get(self, path, accept=None, method="GET"):
        for attempt in (1, 2):   # a kept-alive connection the server closed meanwhile is retried once
            if self.connection is None:
                self.connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                self.connection.request(method, path, headers={"Accept": accept} if accept else {})
                response = self.connection.getresponse()
                body = response.read()
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                self.close()
                if attempt == 2:
                    raise
                continue
            if response.status != 200:
                raise RuntimeError("%s %s: %d %s" % (method, path, response.status, body[:200]))
            return response, body

    def pull(self, name, reference):
        """Manifest by tag, then every blob; returns the bytes received."""
        _, body = self._get("/v2/%s/manifests/%s" % (name, reference), ACCEPT)
        manifest = json.loads(body)
        total = len(body)
        for descriptor in [manifest["config"]] + manifest["layers"]:
            _, blob = self._get("/v2/%s/blobs/%s" % (name, descriptor["digest"]))
            if "sha256:" + hashlib.sha256(blob).hexdigest() != descriptor["digest"]:
                raise RuntimeError("wrong bytes for " + descriptor["digest"])
            total += len(blob)
        return total

    def manifest(self, name, reference, method="GET"):
        return self._get("/v2/%s/manifests/%s" % (name, reference), ACCEPT, method)

    def close(self):
        if self.connection is not None:
            self.connection.close()
            self.connection = None


def soak_disconnect(port, path, after_bytes, reset):
    """A client that asks for a blob and goes away after `after_bytes` of the body (FIN or RST)."""
    with socket.create_connection(("127.0.0.1", port), timeout=60) as s:
        s.sendall(("GET %s HTTP/1.1\r\nHost: soak\r\n\r\n" % path).encode())
        received = 0
        while received < after_bytes:
            chunk = s.recv(min(65536, after_bytes - received + 4096))
            if not chunk:
                break
            received += len(chunk)
        if reset:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


class SoakLoad:
    """The mixed load: worker threads that loop until stopped, counting what they did."""

    def __init__(self, port, upstream_port, images, big_digest):
        self.port, self.upstream_port = port, upstream_port
        self.images, self.big_digest = images, big_digest
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.counts = {}
        self.errors = []
        self.threads = []

    def count(self, key, n=1):
        with self.lock:
            self.counts[key] = self.counts.get(key, 0) + n

    def loop(self, name, body, pause):
        def run():
            i = 0
            while not self.stop.is_set():
                try:
                    body(i)
                    self.count(name)
                except Exception as e:  # noqa: BLE001 - a soak counts failures, it does not stop on them
                    self.count(name + "_errors")
                    with self.lock:
                        if sum(error.startswith(name + ":") for error in self.errors) < 3:
                            self.errors.append("%s: %s" % (name, e))
                i += 1
                self.stop.wait(pause)
        thread = threading.Thread(target=run, name=name, daemon=True)
        thread.start()
        self.threads.append(thread)

    def cold(self, i):
        # Three clients pull the same evicted image at once (one upstream fetch per blob), and a
        # fourth gives up half way through its biggest layer.
        tag = "c%d" % (i % SOAK_COLD_IMAGES)
        layer = max(self.images["cold"][tag]["layers"], key=lambda d: d["size"])
        path = "/v2/soak/cold/blobs/" + layer["digest"]
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            pulls = [pool.submit(self.pull_once, "soak/cold", tag) for _ in range(3)]
            drop = pool.submit(soak_disconnect, self.port, path, layer["size"] // 2, i % 2 == 0)
            for f in pulls + [drop]:
                f.result()

    def pull_once(self, name, tag):
        client = SoakClient(self.port)
        try:
            self.count("bytes", client.pull(name, tag))
        finally:
            client.close()

    def fresh(self, i):
        # New repositories and tags keep arriving, as in production.
        name = "soak/fresh-%d" % (i % 50)
        soak_push(self.upstream_port, name, "t%d" % i, [64 * 1024, 256 * 1024])
        self.pull_once(name, "t%d" % i)

    def stream(self, i):
        # Four whole-blob streams, two of them slowed to a trickle, so streams overlap the rest.
        args = lambda rate: ["curl", "-sf", "-o", "/dev/null"] + (["--limit-rate", rate] if rate else []) + [
            "http://127.0.0.1:%d/v2/soak/big/blobs/%s" % (self.port, self.big_digest)]
        procs = [subprocess.Popen(args(rate)) for rate in (None, None, "16M", "32M")]
        if any(p.wait() != 0 for p in procs):
            raise RuntimeError("a big-blob stream failed")

    def burst(self, i):
        # 64 connections of manifest GETs for two seconds: many channels, many small answers.
        wrk("http://127.0.0.1:%d/v2/soak/warm/manifests/%s" % (self.port, self.images["warm"]["digest"]), 2)

    def start(self):
        warm = SoakClient(self.port)
        manifests = SoakClient(self.port)
        self.loop("cold_round", self.cold, 1.0)
        self.loop("fresh_push_pull", self.fresh, 15.0)
        self.loop("warm_pull", lambda i: self.count("bytes", warm.pull("soak/warm", "1")), 0.2)
        self.loop("manifest_get", lambda i: manifests.manifest("soak/warm", "1", "HEAD" if i % 3 else "GET"), 0.01)
        self.loop("stream_round", self.stream, 2.0)
        self.loop("drop_mid_body", lambda i: soak_disconnect(
            self.port, "/v2/soak/big/blobs/" + self.big_digest, (i % 16 + 1) * MiB, i % 2 == 1), 0.5)
        self.loop("wrk_burst", self.burst, 60.0)

    def finish(self):
        self.stop.set()
        for thread in self.threads:
            thread.join(180)


def blob_gets_any(log_text):
    return len(re.findall(r'"GET /v2/\S+/blobs/sha256:', log_text))


def soak_metrics(admin_port):
    """Heap used (garbage included), old generation, heap committed, non-heap and direct buffers
    (MiB) from Cistern's Prometheus page. The old generation holds what outlived young
    collections: a heap leak shows there."""
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % admin_port, timeout=30) as response:
        text = response.read().decode()
    sums = {}
    for key, pattern in (("heap_used", r'^jvm_memory_used_bytes\{area="heap"[^}]*\} (\S+)'),
                         ("old_gen", r'^jvm_memory_used_bytes\{area="heap",id="[^"]*(?:Tenured|Old)[^"]*"\} (\S+)'),
                         ("heap_committed", r'^jvm_memory_committed_bytes\{area="heap"[^}]*\} (\S+)'),
                         ("nonheap_used", r'^jvm_memory_used_bytes\{area="nonheap"[^}]*\} (\S+)'),
                         ("direct", r'^jvm_buffer_memory_used_bytes\{id="direct"\} (\S+)')):
        sums[key] = sum(float(v) for v in re.findall(pattern, text, re.M)) / MiB
    return sums


def soak_sample(pid, admin_port, start):
    row = {"t_s": round(time.monotonic() - start), "rss_MiB": rss(pid, "VmRSS")}
    with open("/proc/%d/status" % pid) as f:
        row["threads"] = int(re.search(r"^Threads:\s+(\d+)", f.read(), re.M).group(1))
    row.update(soak_metrics(admin_port))
    return row


def soak_verdict(samples):
    """Compares RSS growth over the last third of the soak with the first third, after warm-up."""
    # The first tenth (at least a minute) is warm-up: heap sizing, JIT, pools filling.
    warm = [s for s in samples if s["t_s"] >= max(60, samples[-1]["t_s"] / 10)]
    if len(warm) < 6:
        return {"levels_off": None, "why": "too few samples after warm-up"}
    third = len(warm) // 3
    first = warm[third]["rss_MiB"] - warm[0]["rss_MiB"]
    last = warm[-1]["rss_MiB"] - warm[-1 - third]["rss_MiB"]
    # Levelled off: the last third grew by at most half the first third's growth, or by less
    # than 2 % of the resident size (page-level noise).
    levels_off = last <= max(first / 2, warm[-1]["rss_MiB"] * 0.02)
    return {"levels_off": levels_off, "from_s": warm[0]["t_s"], "rss_at_start_MiB": round(warm[0]["rss_MiB"], 1),
            "rss_at_end_MiB": round(warm[-1]["rss_MiB"], 1), "rss_growth_first_third_MiB": round(first, 1),
            "rss_growth_last_third_MiB": round(last, 1)}


def soak(minutes, interval, out, keep):
    work = tempfile.mkdtemp(prefix="cistern-soak-")
    servers = []
    load = None
    try:
        print("soak: %d minute(s), a sample every %d s, work directory %s" % (minutes, interval, work), flush=True)
        upstream = distribution(work, "upstream")
        servers.append(upstream)
        images = {"warm": soak_push(upstream.port, "soak/warm", "1", [MiB, 2 * MiB, 4 * MiB])[0], "cold": {}}
        for i in range(SOAK_COLD_IMAGES):
            images["cold"]["c%d" % i] = soak_push(upstream.port, "soak/cold", "c%d" % i,
                                                  [256 * 1024, MiB, 4 * MiB - 256 * 1024])[1]
        big_digest = soak_push(upstream.port, "soak/big", "1", [SOAK_BIG])[1]["layers"][0]["digest"]
        # A copy of the jar: a rebuild while the soak runs must not pull the classes from under it.
        jar = os.path.join(work, "cistern.jar")
        shutil.copy(JAR, jar)
        root = os.path.join(work, "cistern")
        os.makedirs(root)
        config = os.path.join(root, "cistern.yml")
        with open(config, "w") as f:
            f.write("server:\n  address: 127.0.0.1\n  port: 0\nadmin:\n  address: 127.0.0.1\n  port: 0\n"
                    "cache:\n  directory: %s/cache\n  maxBytes: %d\nupstreams:\n  - host: upstream.bench\n"
                    "    url: http://127.0.0.1:%d\n" % (root, SOAK_CAP, upstream.port))
        with open(os.path.join(ROOT, "scripts", "jvm-options")) as f:
            java_opts = os.environ.get("CISTERN_JAVA_OPTS", f.read()).split()
        nmt = any(o.startswith("-XX:NativeMemoryTracking=") for o in java_opts)
        server = Server("cistern", ["java"] + java_opts + ["-jar", jar, "--config", config], root,
                        r"registry listening on \S*:(\d+)")
        servers.append(server)
        admin_port = None
        while admin_port is None:
            match = re.search(r"admin listening on \S*:(\d+)", server.text())
            admin_port = int(match.group(1)) if match else time.sleep(0.05)
        malloc_env = {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")}
        print("java %s%s; byte cap %d MiB, %d cold images of ~5 MiB, a %d MiB big blob"
              % (" ".join(java_opts), "".join(" %s=%s" % kv for kv in malloc_env.items()), SOAK_CAP // MiB,
                 SOAK_COLD_IMAGES, SOAK_BIG // MiB), flush=True)
        load = SoakLoad(server.port, upstream.port, images, big_digest)
        start = time.monotonic()
        load.start()
        samples = []
        header = "%7s %9s %10s %8s %10s %10s %9s %8s %10s %8s" % (
            "t (s)", "RSS MiB", "heap used", "old gen", "heap comm", "nonheap", "direct", "threads", "pulls", "errors")
        print(header + "\n" + "-" * len(header), flush=True)
        deadline = start + minutes * 60
        next_sample = start
        while True:
            row = soak_sample(server.process.pid, admin_port, start)
            with load.lock:
                row["pulls"] = sum(v for k, v in load.counts.items() if k in ("cold_round", "warm_pull", "fresh_push_pull"))
                row["errors"] = sum(v for k, v in load.counts.items() if k.endswith("_errors"))
            samples.append(row)
            print("%7d %9.1f %10.1f %8.1f %10.1f %10.1f %9.1f %8d %10d %8d" % (
                row["t_s"], row["rss_MiB"], row["heap_used"], row["old_gen"], row["heap_committed"], row["nonheap_used"],
                row["direct"], row["threads"], row["pulls"], row["errors"]), flush=True)
            if server.process.poll() is not None:
                raise RuntimeError("Cistern exited during the soak; see " + server.log.name)
            if nmt and len(samples) == 3:
                # With -XX:NativeMemoryTracking=summary in CISTERN_JAVA_OPTS: what the JVM's own
                # native memory did from here to the end, by subsystem; RSS growing beyond that
                # is the C allocator's (arenas, fragmentation) or native code outside the JVM's.
                subprocess.run(["jcmd", str(server.process.pid), "VM.native_memory", "baseline"],
                               capture_output=True)
            next_sample += interval
            if next_sample > deadline + 1:
                break
            time.sleep(max(0.0, next_sample - time.monotonic()))
        load.finish()
        verdict = soak_verdict(samples)
        print("\nRSS after warm-up (from %s s): %s -> %s MiB; growth over the first third %+.1f MiB, "
              "over the last third %+.1f MiB -> %s" % (
                  verdict.get("from_s"), verdict.get("rss_at_start_MiB"), verdict.get("rss_at_end_MiB"),
                  verdict.get("rss_growth_first_third_MiB", 0), verdict.get("rss_growth_last_third_MiB", 0),
                  {True: "levels off", False: "still growing", None: verdict.get("why")}[verdict["levels_off"]]))
        print("upstream blob GETs:", blob_gets_any(upstream.text()))
        if nmt:
            print(subprocess.run(["jcmd", str(server.process.pid), "VM.native_memory", "summary.diff"],
                                 capture_output=True, text=True).stdout)
        print("operations:", json.dumps(dict(sorted(load.counts.items()))))
        for error in load.errors:
            print("  error:", error)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "machine": machine_description(), "minutes": minutes,
                       "java_options": java_opts, "malloc_environment": malloc_env, "verdict": verdict, "counts": load.counts,
                       "errors": load.errors, "samples": samples}, f, indent=2)
        print("results written to", out)
        return 0 if verdict["levels_off"] is not False else 1
    finally:
        if load:
            load.stop.set()
        for server in reversed(servers):
            server.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


# ---------------------------------------------------------------- cluster (bench/run.sh --cluster)
#
# The same pulls against one Cistern and against a cluster of three sharing a bucket, side by
# side. The bucket is s3proxy (filesystem store) run by io.cistern.testing.S3ProxyMain from the
# tests' class path, which the build writes to proxy-server/target/test-classpath.txt: s3proxy and
# what it brings stay out of Cistern's own class path and JVM.

TEST_CLASSES = os.path.join(ROOT, "proxy-server", "target", "test-classes")
TEST_CLASSPATH = os.path.join(ROOT, "proxy-server", "target", "test-classpath.txt")
CLUSTER_TOKEN = "bench-cluster-token"
CLUSTER_SECRET_VARIABLE = "BENCH_BUCKET_SECRET"
CLUSTER_SIZE = 3

CLUSTER_ROWS = [
    ("upstream_blob_gets_cold", "1. upstream blob GETs, %d cold pulls"),
    ("cold_pull_s", "2. cold pull wall time, %d clients (s)"),
    ("warm_pull_s", "3. warm pull wall time, %d clients (s)"),
    ("new_node_upstream_blob_gets", "4. new node, empty disk: upstream blob GETs"),
    ("new_node_pull_s", "5. new node, empty disk: pull, %d clients (s)"),
]


def s3_server(work):
    """s3proxy in a JVM of its own; returns (process, endpoint port, bucket, access key, secret key)."""
    root = os.path.join(work, "s3")
    os.makedirs(root, exist_ok=True)
    with open(TEST_CLASSPATH) as f:
        classpath = TEST_CLASSES + os.pathsep + f.read().strip()
    log = open(os.path.join(root, "s3.log"), "w+")
    process = subprocess.Popen(["java", "-Xmx256m", "-cp", classpath, "io.cistern.testing.S3ProxyMain",
                                os.path.join(root, "data")],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=log, text=True)
    pattern = re.compile(r"s3 listening on 127\.0\.0\.1:(\d+) bucket=(\S+) accessKeyId=(\S+) secretAccessKey=(\S+)")
    match = None
    for line in process.stdout:
        match = pattern.match(line)
        if match:
            break
        log.write(line)
    if not match:
        process.kill()
        raise RuntimeError("the S3 server did not start; see %s" % log.name)

    def drain():
        # Whatever it prints later goes to its log: a full pipe would stop it.
        for rest in process.stdout:
            log.write(rest)
            log.flush()
    threading.Thread(target=drain, daemon=True).start()
    return process, int(match.group(1)), match.group(2), match.group(3), match.group(4), os.path.join(root, "data")


def stop_s3(process):
    process.stdin.close()   # S3ProxyMain stops when its standard input closes
    try:
        process.wait(20)
    except subprocess.TimeoutExpired:
        process.kill()


class Member:
    """One Cistern of a cluster, or a single node (no cluster, no bucket); admin port from its log."""

    def __init__(self, work, name, upstream_url, port, cluster=None):
        self.root = os.path.join(work, name)
        os.makedirs(self.root, exist_ok=True)
        self.url = "http://127.0.0.1:%d" % port
        config = os.path.join(self.root, "cistern.yml")
        env = {}
        with open(config, "w") as f:
            f.write("server:\n  address: 127.0.0.1\n  port: %d\nadmin:\n  address: 127.0.0.1\n  port: 0\n"
                    "cache:\n  directory: %s/cache\n"
                    "upstreams:\n  - host: upstream.bench\n    url: %s\n" % (port, self.root, upstream_url))
            if cluster:
                f.write("cluster:\n  members:\n%s  self: %s\n  token: %s\n" % (
                    "".join("    - %s\n" % url for url in cluster["members"]), self.url, CLUSTER_TOKEN))
                f.write("bucket:\n  name: %s\n  endpoint: http://127.0.0.1:%d\n  region: us-east-1\n"
                        "  prefix: cistern/\n  pathStyle: true\n  accessKeyId: %s\n  secretAccessKeyEnv: %s\n" % (
                            cluster["bucket"], cluster["s3_port"], cluster["access_key"], CLUSTER_SECRET_VARIABLE))
                env[CLUSTER_SECRET_VARIABLE] = cluster["secret_key"]
        self.server = Server(name, cistern_command(config), self.root, r"registry listening on \S*:(\d+)", env=env)
        self.port = self.server.port
        self.admin_port = None
        deadline = time.time() + 60
        while self.admin_port is None and time.time() < deadline:
            match = re.search(r"admin listening on \S*:(\d+)", self.server.text())
            self.admin_port = int(match.group(1)) if match else time.sleep(0.05)
        if self.admin_port is None:
            raise RuntimeError(name + ": no admin listener; see " + self.server.log.name)

    def served_bytes(self):
        """cistern_served_bytes_total by source (cache, upstream, and what the cluster adds)."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin_port, timeout=30) as response:
            text = response.read().decode()
        served = {}
        for source, value in re.findall(r'^cistern_served_bytes_total\{[^}]*source="([^"]+)"[^}]*\} (\S+)', text, re.M):
            served[source] = served.get(source, 0.0) + float(value)
        return served

    def members_live(self):
        """cistern_cluster_members_live: the members this one counts as live, itself included."""
        with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % self.admin_port, timeout=30) as response:
            text = response.read().decode()
        match = re.search(r'^cistern_cluster_members_live(?:\{[^}]*\})? (\S+)', text, re.M)
        return float(match.group(1)) if match else 0

    def stop(self):
        self.server.stop()


def start_members(work, prefix, upstream_url, count, cluster=None, listed=None):
    """`count` members started at once; a cluster's members list every member (`listed` adds those
    already running). Ports are picked free beforehand: every member's configuration names every
    other's address, which port 0 would only tell once each had started."""
    ports = [free_port() for _ in range(count)]
    if cluster is not None:
        cluster = dict(cluster, members=(listed or []) + ["http://127.0.0.1:%d" % p for p in ports])
    with concurrent.futures.ThreadPoolExecutor(count) as pool:
        futures = [pool.submit(Member, work, "%s-%d" % (prefix, i), upstream_url, port, cluster)
                   for i, port in enumerate(ports)]
        return [f.result() for f in futures]


def await_members_live(members, expected_urls):
    """Until each member counts every one of `expected_urls` (and itself) as live, by its
    cistern_cluster_members_live gauge: a member that probed another before that one listened
    takes it for down until its next probe, and cold pulls that start earlier would be spread by
    who has been probed yet, not by ownership."""
    deadline = time.time() + 60
    for member in members:
        wanted = len(set(expected_urls) | {member.url})
        while member.members_live() < wanted:
            if time.time() > deadline:
                raise RuntimeError("%s never saw all of %s live; see %s" % (member.url, expected_urls,
                                                                          member.server.log.name))
            time.sleep(0.1)


def await_in_bucket(data_directory, digests):
    """Until every digest has an object in the bucket (the members put after serving, off the
    clients' path); s3proxy's filesystem store keeps one file per key."""
    deadline = time.time() + 120
    wanted = {d.split(":", 1)[1] for d in digests}
    while True:
        present = set()
        for _, _, files in os.walk(data_directory):
            present.update(f for f in files if f in wanted)
        if present == wanted:
            return
        if time.time() > deadline:
            raise RuntimeError("not in the bucket after 120 s: %s" % sorted(wanted - present))
        time.sleep(0.1)


def spread_pulls(work, members, tag, clients, label):
    """`clients` skopeo pulls of one image at once, client i through member i % len(members);
    returns the wall time in seconds."""
    def pull(i):
        out = os.path.join(work, "pulls", "%s-%s-%d" % (label, tag, i))
        shutil.rmtree(out, ignore_errors=True)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        skopeo(work, ["copy", "--src-tls-verify=false",
                      "docker://127.0.0.1:%d/bench/images:%s" % (members[i % len(members)].port, tag), "dir:" + out])
        shutil.rmtree(out, ignore_errors=True)
    start = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(clients) as pool:
        list(pool.map(pull, range(clients)))
    return time.monotonic() - start


def cluster_run(work, upstream, images, settings, s3, run):
    """The same steps for a single node and for a cluster: warm-up on another image, cold pulls,
    warm pulls, then a new node with an empty disk (for the cluster, a member joining it) pulling
    the image once the cold pulls' content is in the bucket."""
    upstream_url = "http://127.0.0.1:%d" % upstream.port
    _, s3_port, bucket, access_key, secret_key, s3_data = s3
    layouts = {"single": None, "cluster": dict(bucket=bucket, s3_port=s3_port, access_key=access_key,
                                                 secret_key=secret_key)}
    clients = settings["clients"]
    results = {}
    for label, cluster in layouts.items():
        r = results[label] = {}
        members = []
        try:
            members = start_members(work, "%s-%d" % (label, run), upstream_url,
                                    CLUSTER_SIZE if cluster else 1, cluster)
            if cluster:
                await_members_live(members, [m.url for m in members])
            spread_pulls(work, members, "small", 2, label + "-warmup")
            before = blob_gets(upstream.text())
            r["cold_pull_s"] = spread_pulls(work, members, "medium", clients, label + "-cold")
            r["upstream_blob_gets_cold"] = blob_gets(upstream.text()) - before
            r["warm_pull_s"] = spread_pulls(work, members, "medium", clients, label + "-warm")
            if cluster:
                descriptor, manifest = images["medium"]
                await_in_bucket(s3_data, [descriptor["digest"], manifest["config"]["digest"]] +
                                [layer["digest"] for layer in manifest["layers"]])
                new = start_members(work, "%s-%d-new" % (label, run), upstream_url, 1, cluster,
                                    listed=[m.url for m in members])[0]
                await_members_live([new], [m.url for m in members])
            else:
                new = start_members(work, "%s-%d-new" % (label, run), upstream_url, 1)[0]
            members.append(new)
            before = blob_gets(upstream.text())
            r["new_node_pull_s"] = spread_pulls(work, [new], "medium", clients, label + "-new")
            r["new_node_upstream_blob_gets"] = blob_gets(upstream.text()) - before
            served = {}
            for member in members:
                for source, value in member.served_bytes().items():
                    served[source] = served.get(source, 0.0) + value
            r["served_MiB"] = {source: value / MiB for source, value in served.items()}
        except Exception:
            for member in members:
                print("---- %s (%s) log tail:" % (member.url, "running" if member.server.process.poll() is None
                                                    else "exited %s" % member.server.process.returncode), file=sys.stderr)
                print("\n".join(member.server.text().splitlines()[-40:]), file=sys.stderr)
            raise
        finally:
            for member in members:
                member.stop()
    return results


# cistern_served_bytes_total's sources, in the order the report prints them, side by side.
SERVED_SOURCES = {
    "cache": "from the local disk (source=cache)",
    "bucket": "from the bucket (source=bucket)",
    "member": "from other members (source=member)",
    "upstream": "from the upstream (source=upstream)",
}


def cluster_report(runs, settings, machine):
    table = {}
    lines = ["", "Cistern: a cluster of %d members sharing an S3 bucket vs a single node; medians of %d run(s)"
             % (CLUSTER_SIZE, len(runs)), "machine: %s" % machine, ""]
    header = "%-48s %12s %12s %10s" % ("measure", "single", "cluster", "cl/single")
    lines += [header, "-" * len(header)]
    fmt = lambda v: "-" if v is None else (("%.3f" if abs(v) < 1 else "%.2f") % v if isinstance(v, float) else str(v))
    seen = {source for run in runs for label in run for source in run[label].get("served_MiB", {})}
    sources = [source for source in SERVED_SOURCES if source in seen or source in ("cache", "upstream")]
    sources += sorted(seen - set(SERVED_SOURCES))
    rows = [(key, title % settings["clients"] if "%d" in title else title) for key, title in CLUSTER_ROWS]
    for key, title in rows:
        single, cluster = (median_of(runs, label, key) for label in ("single", "cluster"))
        ratio = cluster / single if single and cluster is not None else None
        table[key] = {"single": single, "cluster": cluster, "cluster_over_single": ratio}
        lines.append("%-48s %12s %12s %10s" % (title, fmt(single), fmt(cluster), fmt(ratio)))
    lines.append("")
    lines.append("bytes served to clients, all steps, by where they came from (MiB; cistern_served_bytes_total):")
    for source in sources:
        values = {label: statistics.median(run[label].get("served_MiB", {}).get(source, 0.0) for run in runs)
                  for label in ("single", "cluster")}
        table["served_MiB_" + source] = values
        lines.append("%-48s %12s %12s" % ("   " + SERVED_SOURCES.get(source, "from " + source),
                                            fmt(values["single"]), fmt(values["cluster"])))
    return table, "\n".join(lines)


def cluster_bench(settings, out, keep):
    if not os.path.exists(TEST_CLASSPATH) or not os.path.isdir(TEST_CLASSES):
        sys.exit("build Cistern and its tests first: mvn -B -q -DskipTests package")
    work = tempfile.mkdtemp(prefix="cistern-cluster-bench-")
    upstream = None
    s3 = None
    try:
        print("generating images in", work, flush=True)
        layout, images = build_images(work, settings, ["cluster"])
        upstream = distribution(work, "upstream")
        for tag in ("small", "medium"):
            skopeo(work, ["copy", "--dest-tls-verify=false", "--preserve-digests",
                          "oci:%s:%s" % (layout, tag), "docker://127.0.0.1:%d/bench/images:%s" % (upstream.port, tag)])
        s3 = s3_server(work)
        runs = []
        for run in range(settings["runs"]):
            print("run %d of %d" % (run + 1, settings["runs"]), flush=True)
            runs.append(cluster_run(work, upstream, images, settings, s3, run))
            # Each run starts from an empty bucket, as each starts from empty disks.
            shutil.rmtree(os.path.join(s3[5], "cistern-cluster", "cistern"), ignore_errors=True)
        machine = machine_description()
        table, text = cluster_report(runs, settings, machine)
        print(text)
        os.makedirs(os.path.dirname(out), exist_ok=True)
        with open(out, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "machine": machine, "settings": settings,
                       "medians": table, "runs": runs}, f, indent=2)
        print("\nresults written to", out)
        expected = len(images["medium"][1]["layers"]) + 1
        if table["upstream_blob_gets_cold"]["cluster"] != expected or table["new_node_upstream_blob_gets"]["cluster"] != 0:
            print("WARNING: the cluster did not fetch each blob exactly once, or its new member went upstream",
                  file=sys.stderr)
            return 1
        return 0
    finally:
        if s3:
            stop_s3(s3[0])
        if upstream:
            upstream.stop()
        if not keep:
            shutil.rmtree(work, ignore_errors=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, one run: seconds, for CI")
    parser.add_argument("--runs", type=int, help="runs to take the median of")
    parser.add_argument("--out", default=os.path.join(ROOT, "bench", "results", "latest.json"))
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--soak", type=int, nargs="?", const=30, metavar="MINUTES",
                        help="instead of the table: a mixed load for MINUTES (30), sampling memory")
    parser.add_argument("--interval", type=int, default=30, help="seconds between soak samples")
    parser.add_argument("--cold", action="store_true", help="only the cold-path rows (10); with --wan, both")
    parser.add_argument("--wan", action="store_true", help="only the rows behind a shaped link (11); with --cold, both")
    parser.add_argument("--wan-rate-mbit", type=float, help="the shaped link's shared downstream rate (200)")
    parser.add_argument("--wan-delay-ms", type=float, help="latency the shaped link adds each way (5)")
    parser.add_argument("--cluster", action="store_true",
                        help="instead of the table: a cluster of three members and a bucket vs a single node")
    args = parser.parse_args()
    if args.soak:
        if not os.path.exists(JAR):
            sys.exit("build Cistern first: mvn -B -q -DskipTests package")
        out = args.out if "--out" in sys.argv else os.path.join(ROOT, "bench", "results", "soak-latest.json")
        return soak(args.soak, args.interval, out, args.keep)
    settings = dict(SMOKE if args.smoke else FULL)
    settings["wan"] = dict(settings["wan"])
    if args.runs:
        settings["runs"] = args.runs
    if args.wan_rate_mbit:
        settings["wan"]["rate_mbit"] = args.wan_rate_mbit
    if args.wan_delay_ms is not None:
        settings["wan"]["delay_ms"] = args.wan_delay_ms
    groups = [g for g, only in (("cold", args.cold), ("wan", args.wan)) if only] or list(GROUPS)
    if not os.path.exists(JAR):
        sys.exit("build Cistern first: mvn -B -q -DskipTests package")
    if args.cluster:
        out = args.out if "--out" in sys.argv else os.path.join(ROOT, "bench", "results", "cluster-latest.json")
        return cluster_bench(settings, out, args.keep)
    work = tempfile.mkdtemp(prefix="cistern-bench-")
    upstream = None
    try:
        print("generating images in", work, flush=True)
        layout, images = build_images(work, settings, groups)
        upstream = distribution(work, "upstream")
        for tag in images:
            extra = ["--all"] if tag == "multi" else []
            skopeo(work, ["copy", "--dest-tls-verify=false", "--preserve-digests"] + extra +
                   ["oci:%s:%s" % (layout, tag), "docker://127.0.0.1:%d/bench/images:%s" % (upstream.port, tag)])
        runs, samples = [], {}
        if "standard" in groups:
            for run in range(settings["runs"]):
                print("run %d of %d" % (run + 1, settings["runs"]), flush=True)
                runs.append(one_run(work, upstream, images, settings, run))
        page_cost = None
        if "cold" in groups:
            page_cost = page_cache_cost(work)
            print("cold path (rows 10)", flush=True)
            samples.update(cold_path(work, upstream, settings))
        if "wan" in groups:
            print("behind a shaped link (rows 11)", flush=True)
            samples.update(wan(work, upstream, images, settings))
        machine = machine_description()
        if page_cost:
            machine += ("; page-cache writes, kernel s/GiB: a new 2 GiB file's first 256 MiB %.2f, its last %.2f, "
                        "again right after deleting it %.2f" % tuple(page_cost))
        table, text = report(runs, samples, settings, groups, machine)
        print(text)
        os.makedirs(os.path.dirname(args.out), exist_ok=True)
        with open(args.out, "w") as f:
            json.dump({"date": time.strftime("%Y-%m-%d"), "machine": machine, "smoke": args.smoke,
                       "groups": groups, "settings": settings, "medians": table, "runs": runs, "samples": samples},
                      f, indent=2)
        print("\nresults written to", args.out)
        status = 0
        if "standard" in groups and table["upstream_blob_gets_cold"]["cistern"] != len(images["medium"][1]["layers"]) + 1:
            print("WARNING: Cistern did not fetch each blob exactly once", file=sys.stderr)
            status = 1
        if "wan" in groups and max(samples["wan_link_MiB"]["cistern"]) > 1.05 * max(samples["wan_link_MiB"]["direct"]):
            print("WARNING: the blobs of Cistern's concurrent pulls crossed the link more than once", file=sys.stderr)
            status = 1
        return status
    finally:
        if upstream:
            upstream.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
