#!/usr/bin/env python3
"""Where a cold pull's time goes in Cistern: client timelines, CPU per pull, and a JFR profile.

    python3 bench/cold-profile.py [--pulls 12] [--fresh 4] [--layers 5] [--layer-mib 10] [--keep]

Starts a real Distribution upstream holding generated images, then, one after another, pulls
never-pulled images (1 client, bench/puller.py) directly, through Distribution in proxy mode and
through a Cistern whose JVM has run the miss path on other images (in turns), and:

1. per pull, the CPU time each process spent (upstream, proxy; from /proc) and the client's, and
   what the proxy still spends once its client has the image (Distribution stores each blob with a
   second fetch after serving it); every pull waits until all servers are idle;
2. per blob, from the client's side: time to first byte, body time, and how long the last byte
   came after the rest (Cistern holds it back until the blob is verified; the fsync follows);
3. a JFR recording of the warmed Cistern over its measured pulls (jcmd JFR.start/stop, 5 ms
   sampling, every fsync): execution samples by thread and by what the stack is doing, every
   FileChannel.force with its duration (blob file, directory, manifest), garbage collections; the
   blob fsyncs matched with the client's view of the same blob's last byte;
4. with --fresh N: N fresh Cistern processes, each recorded by JFR from its start, pulled as soon
   as /v2/ answers: the same client figures, and the JIT compilations, classes loaded and
   interpreted-frame samples that fell inside the pull.

Prints a report and writes everything as JSON (profile.json) in the work directory. A tool for
finding costs, not a benchmark: JFR's own overhead is in the figures (a few per cent), and on a
shared machine every wall time is noisy; the CPU times are the steadier figures.
"""
import argparse
import collections
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import puller  # noqa: E402

JFC_BASE = None
for candidate in ("/usr/lib/jvm/java-17-openjdk-amd64/lib/jfr/profile.jfc",):
    if os.path.exists(candidate):
        JFC_BASE = candidate
TICKS = os.sysconf("SC_CLK_TCK")


def jfc(path):
    """JFR settings: the 'profile' template with 5 ms Java sampling, 10 ms native sampling, every
    force (fsync), every compilation, class loading, file writes and thread parks from 1 ms."""
    base = JFC_BASE or os.path.join(os.path.dirname(os.path.realpath(shutil.which("java"))), "..", "lib", "jfr",
                                    "profile.jfc")
    with open(base) as f:
        text = f.read()

    def setting(event, name, value):
        nonlocal text
        pattern = r'(<event name="%s">.*?<setting name="%s"[^>]*>)[^<]*(</setting>)' % (re.escape(event), name)
        text, n = re.subn(pattern, r"\g<1>%s\g<2>" % value, text, count=1, flags=re.S)
        if n != 1:
            raise RuntimeError("no setting %s of %s in %s" % (name, event, base))

    setting("jdk.ExecutionSample", "period", "5 ms")
    setting("jdk.NativeMethodSample", "period", "10 ms")
    setting("jdk.FileForce", "threshold", "0 ms")
    setting("jdk.FileWrite", "threshold", "1 ms")
    setting("jdk.FileRead", "threshold", "1 ms")
    setting("jdk.ThreadPark", "threshold", "1 ms")
    setting("jdk.Compilation", "threshold", "0 ms")
    setting("jdk.ClassLoad", "enabled", "true")
    with open(path, "w") as f:
        f.write(text)
    return path


def cpu_seconds(pid, system_only=False):
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[12]) if system_only else int(fields[11]) + int(fields[12])) / TICKS


def thread_cpu(pid):
    """{thread group: [user s, system s, context switches]} of a process's live threads, by their
    (native) names. Voluntary switches count the times a thread went to sleep: on a pipeline of
    threads, its hand-offs."""
    out = collections.defaultdict(lambda: [0.0, 0.0, 0])
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                name = thread_group(f.read().strip())
            with open("/proc/%d/task/%s/stat" % (pid, tid)) as f:
                fields = f.read().rsplit(")", 1)[1].split()
            with open("/proc/%d/task/%s/status" % (pid, tid)) as f:
                switches = int(re.search(r"^voluntary_ctxt_switches:\s+(\d+)", f.read(), re.M).group(1))
        except (OSError, AttributeError):
            continue  # ended meanwhile
        out[name][0] += int(fields[11]) / TICKS
        out[name][1] += int(fields[12]) / TICKS
        out[name][2] += switches
    return out


def thread_cpu_delta(before, after, pulls):
    """CPU ms per pull by thread group, user and system, largest first. A thread started and ended
    in between (CompletableFuture's thread-per-task on two cores) is lost; the process total
    (cpu_per_pull_s) has it."""
    rows = []
    for name in set(before) | set(after):
        user, system, switches = (after.get(name, [0, 0, 0])[k] - before.get(name, [0, 0, 0])[k] for k in range(3))
        if user + system > 0 or switches:
            rows.append((name, round(1000 * user / pulls, 1), round(1000 * system / pulls, 1), round(switches / pulls)))
    return sorted(rows, key=lambda r: -(r[1] + r[2]))


def jfr_events(recording, events, stack_depth=24):
    out = subprocess.run(["jfr", "print", "--json", "--stack-depth", str(stack_depth), "--events", ",".join(events),
                          recording], capture_output=True, text=True, check=True).stdout
    unique, seen = [], set()
    for event in json.loads(out)["recording"]["events"]:
        # A recording dumped while it runs can hold a chunk twice: count each event once.
        key = json.dumps(event, sort_keys=True)
        if key not in seen:
            seen.add(key)
            unique.append(event)
    return unique


def epoch(iso):
    """JFR's ISO-8601 start times (nanoseconds) as seconds since the epoch."""
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?(Z|[+-]\d\d:\d\d)", iso)
    base = time.mktime(time.strptime(match.group(1), "%Y-%m-%dT%H:%M:%S")) - time.timezone
    if match.group(3) not in ("Z", "+00:00"):
        sign = 1 if match.group(3)[0] == "+" else -1
        base -= sign * (int(match.group(3)[1:3]) * 3600 + int(match.group(3)[4:6]) * 60)
    return base + float(match.group(2) or 0)


def duration_s(value):
    """JFR durations as printed in JSON: 'PT0.012345S' or a number of seconds."""
    if isinstance(value, (int, float)):
        return float(value)
    match = re.match(r"PT(?:(\d+)M)?([\d.]+)S", value)
    return (int(match.group(1) or 0) * 60 + float(match.group(2))) if match else 0.0


def thread_group(name):
    """A thread's name without its numbers: the pool it belongs to."""
    return re.sub(r"\d+", "N", name or "?")


# What a sampled stack is doing, judged by its frames from the top; the first rule that matches.
ACTIVITIES = [
    ("sha-256 of the download", ("sun.security.provider.SHA", "sun.security.provider.DigestBase")),
    ("fsync", ("FileChannelImpl.force", "FileDispatcherImpl.force")),
    ("write to the temp file", ("FileChannelImpl.write", "FileDispatcherImpl.pwrite", "IOUtil.write")),
    ("read the temp file for a client", ("FileChannelImpl.read", "FileDispatcherImpl.pread", "ByteBuf.writeBytes",
                                         "FollowingBlobInput")),
    ("SQLite", ("org.sqlite", "com.zaxxer.hikari")),
    ("access log", ("io.cistern.admin.AccessLog", "BatchingLineWriter", "ch.qos.logback")),
    ("metrics", ("io.micrometer",)),
    ("upstream HTTP client", ("jdk.internal.net.http",)),
    ("netty socket I/O", ("io.netty.channel.epoll", "io.netty.channel.unix", "SocketChannelImpl")),
    ("netty pipeline/codec", ("io.netty",)),
    ("Caffeine", ("com.github.benmanes.caffeine",)),
    ("CompletableFuture plumbing", ("java.util.concurrent.CompletableFuture",)),
    ("Cistern code", ("io.cistern",)),
]


def frames_of(event):
    trace = event["values"].get("stackTrace") or {}
    out = []
    for frame in trace.get("frames", []):
        method = frame.get("method") or {}
        cls = (method.get("type") or {}).get("name", "?")
        out.append((("%s.%s" % (cls, method.get("name", "?"))).replace("/", "."), frame.get("type", "")))
    return out


def activity(frames):
    for label, needles in ACTIVITIES:
        for name, _ in frames:
            if any(n in name for n in needles):
                return label
    return "other (JDK/JVM)"


def in_window(t, windows):
    return any(a <= t <= b for a, b in windows)


def analyse_recording(recording, windows, blob_views, top=12):
    """Summarises a JFR recording over the given (start, end) windows (epoch seconds)."""
    events = jfr_events(recording, ["jdk.ExecutionSample", "jdk.NativeMethodSample", "jdk.FileForce",
                                    "jdk.GarbageCollection", "jdk.Compilation", "jdk.ClassLoad", "jdk.ThreadPark",
                                    "jdk.ThreadStart"])
    by_type = collections.defaultdict(list)
    for event in events:
        by_type[event["type"]].append(event)
    summary = {}
    samples = [e for e in by_type["jdk.ExecutionSample"] if in_window(epoch(e["values"]["startTime"]), windows)]
    threads = collections.Counter(thread_group((e["values"].get("sampledThread") or {}).get("javaName")) for e in samples)
    activities = collections.Counter()
    top_frames = collections.Counter()
    interpreted = 0
    for e in samples:
        frames = frames_of(e)
        activities[activity(frames)] += 1
        if frames:
            top_frames[frames[0][0]] += 1
            interpreted += frames[0][1] == "Interpreted"
    summary["java_samples"] = len(samples)
    summary["java_samples_by_thread"] = threads.most_common()
    summary["java_samples_by_activity"] = activities.most_common()
    summary["java_top_frames"] = top_frames.most_common(top)
    summary["java_samples_interpreted_top_frame"] = interpreted
    natives = [e for e in by_type["jdk.NativeMethodSample"] if in_window(epoch(e["values"]["startTime"]), windows)]
    native_tops = collections.Counter()
    for e in natives:
        frames = frames_of(e)
        name = frames[0][0] if frames else "?"
        if any(idle in name for idle in ("epollWait", "EPoll.wait", "accept", "socketAccept", "park")):
            continue
        native_tops["%s @ %s" % (name, thread_group((e["values"].get("sampledThread") or {}).get("javaName")))] += 1
    summary["native_busy_samples"] = native_tops.most_common(top)
    forces = []
    blob_hexes = {view["digest"][7:] for view in blob_views}
    for e in by_type["jdk.FileForce"]:
        start = epoch(e["values"]["startTime"])
        if not in_window(start, windows):
            continue
        path = e["values"].get("path") or ""
        name = os.path.basename(path)
        kind = ("blob" if name.endswith(".partial") and name.split(".")[0] in blob_hexes
                else "manifest" if name.endswith(".partial")
                else "directory" if re.fullmatch(r"[0-9a-f]{2}", name) else "other")
        forces.append({"start": start, "s": duration_s(e["values"]["duration"]), "path": path, "kind": kind,
                       "thread": thread_group((e["values"].get("eventThread") or {}).get("javaName"))})
    summary["fsyncs"] = {kind: {"count": len(v), "median_ms": round(1000 * statistics.median(x["s"] for x in v), 2),
                                "max_ms": round(1000 * max(x["s"] for x in v), 2),
                                "total_ms": round(1000 * sum(x["s"] for x in v), 1),
                                "threads": sorted(set(x["thread"] for x in v))}
                         for kind, v in group_by(forces, "kind").items()}
    # The blob's own fsync against the client's wait for that blob's last byte.
    matched = []
    for view in blob_views:
        hexdigest = view["digest"][7:]
        mine = [f for f in forces if f["kind"] == "blob" and os.path.basename(f["path"]).startswith(hexdigest)]
        if mine and view.get("last_byte_s") is not None:
            matched.append({"size": view["size"], "last_byte_ms": 1000 * view["last_byte_s"],
                            "fsync_ms": 1000 * mine[0]["s"]})
    summary["blob_fsync_vs_last_byte"] = matched
    gcs = [e for e in by_type["jdk.GarbageCollection"] if in_window(epoch(e["values"]["startTime"]), windows)]
    summary["gc"] = {"count": len(gcs), "total_ms": round(1000 * sum(duration_s(e["values"]["sumOfPauses"]) for e in gcs), 1)}
    compilations = [e for e in by_type["jdk.Compilation"] if in_window(epoch(e["values"]["startTime"]), windows)]
    summary["compilations"] = {"count": len(compilations),
                               "total_ms": round(1000 * sum(duration_s(e["values"]["duration"]) for e in compilations), 1),
                               "c2": sum(1 for e in compilations if e["values"].get("compileLevel") == 4)}
    loads = [e for e in by_type["jdk.ClassLoad"] if in_window(epoch(e["values"]["startTime"]), windows)]
    summary["classes_loaded"] = len(loads)
    summary["classes_loaded_by_package"] = collections.Counter(
        ".".join(((e["values"].get("loadedClass") or {}).get("name") or "?").replace("/", ".").split(".")[:3])
        for e in loads).most_common(8)
    started = [e for e in by_type["jdk.ThreadStart"] if in_window(epoch(e["values"]["startTime"]), windows)]
    # On two cores the common pool has one thread, so CompletableFuture's default executor (which
    # the JDK's HttpClient completes every sendAsync on) starts a new thread per task.
    summary["threads_started"] = collections.Counter(
        thread_group((e["values"].get("thread") or {}).get("javaName")) for e in started).most_common(6)
    parks = [e for e in by_type["jdk.ThreadPark"] if in_window(epoch(e["values"]["startTime"]), windows)]
    park_sites = collections.Counter()
    for e in parks:
        frames = [name for name, _ in frames_of(e) if not name.startswith(("jdk.internal.misc", "java.util.concurrent.locks"))]
        park_sites["%s @ %s" % (frames[0] if frames else "?",
                                thread_group((e["values"].get("eventThread") or {}).get("javaName")))] += 1
    summary["parks_over_1ms"] = park_sites.most_common(8)
    return summary


def phases(recording, result):
    """A fresh process's first pull in three phases (GET /v2/; the manifest, whose miss builds the
    upstream's HTTP client; the blobs): what the JVM did in each, from the recording."""
    events = jfr_events(recording, ["jdk.ClassLoad", "jdk.Compilation", "jdk.GarbageCollection",
                                    "jdk.ExecutionSample", "jdk.ThreadStart"], 40)
    w0, w1 = result["window"]
    ping, manifest = result["ping_s"], result["manifest_s"]
    out = []
    for name, a, b in (("/v2/", w0, w0 + ping), ("manifest", w0 + ping, w0 + ping + manifest),
                       ("blobs", w0 + ping + manifest, w1)):
        inside = [e for e in events if a <= epoch(e["values"]["startTime"]) <= b]
        kinds = collections.Counter(e["type"] for e in inside)
        loads = [e for e in inside if e["type"] == "jdk.ClassLoad"]
        samples = [e for e in inside if e["type"] == "jdk.ExecutionSample"]
        out.append({
            "phase": name, "ms": round(1000 * (b - a), 1), "classes_loaded": len(loads),
            "classes_by_package": collections.Counter(
                ".".join(((e["values"].get("loadedClass") or {}).get("name") or "?").replace("/", ".").split(".")[:3])
                for e in loads).most_common(6),
            "compilations": kinds["jdk.Compilation"],
            "compile_ms": round(1000 * sum(duration_s(e["values"]["duration"]) for e in inside
                                           if e["type"] == "jdk.Compilation")),
            "gcs": kinds["jdk.GarbageCollection"],
            "gc_ms": round(1000 * sum(duration_s(e["values"]["sumOfPauses"]) for e in inside
                                      if e["type"] == "jdk.GarbageCollection"), 1),
            "threads_started": kinds["jdk.ThreadStart"],
            "java_samples": len(samples),
            "interpreted": sum(1 for e in samples if frames_of(e) and frames_of(e)[0][1] == "Interpreted"),
            "top_frames": collections.Counter(frames_of(e)[0][0] for e in samples if frames_of(e)).most_common(5)})
    return out


def group_by(items, key):
    out = collections.defaultdict(list)
    for item in items:
        out[item[key]].append(item)
    return dict(out)


def blob_stats(pulls):
    blobs = [b for p in pulls for b in p["blobs"]]
    layers = [b for b in blobs if b["size"] > 4096]
    med = lambda v: round(statistics.median(v), 2) if v else None
    return {"pull_s": med([p["seconds"] for p in pulls]),
            "pull_s_range": [round(min(p["seconds"] for p in pulls), 3), round(max(p["seconds"] for p in pulls), 3)],
            "ping_ms": med([1000 * p["ping_s"] for p in pulls]),
            "manifest_ms": med([1000 * p["manifest_s"] for p in pulls]),
            "config_ttfb_ms": med([1000 * b["ttfb_s"] for b in blobs if b["size"] <= 4096]),
            "config_last_byte_ms": med([1000 * b["last_byte_s"] for b in blobs if b["size"] <= 4096]),
            "layer_ttfb_ms": med([1000 * b["ttfb_s"] for b in layers]),
            "layer_body_ms": med([1000 * (b["end"] - b["headers"]) for b in layers]),
            "layer_last_byte_ms": med([1000 * b["last_byte_s"] for b in layers]),
            "layer_last_byte_ms_max": round(max(1000 * b["last_byte_s"] for b in layers), 1) if layers else None}


class Recorder:
    """Epoch-time windows of the pulls, to pick JFR events out of a longer recording."""

    def __init__(self):
        self.windows = []

    def pull(self, port, tag):
        start = time.time()
        result = puller.pull(port, bench.NAME, tag, 3)
        self.windows.append((start, time.time()))
        return result


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--pulls", type=int, default=12, help="cold pulls per side (warmed servers)")
    parser.add_argument("--fresh", type=int, default=4, help="fresh Cistern processes, each pulled right after its start")
    parser.add_argument("--layers", type=int, default=5)
    parser.add_argument("--layer-mib", type=float, default=10)
    parser.add_argument("--sizes", help="the pulled images' layers in MiB, e.g. 400,100 (instead of --layers/--layer-mib)")
    parser.add_argument("--warm-images", type=int, default=8)
    parser.add_argument("--warm-layer-kib", type=int, default=256, help="the warm-up images' five layers")
    parser.add_argument("--keep", action="store_true", help="keep the work directory (recordings, logs)")
    parser.add_argument("--no-jfr", action="store_true", help="no recording of the warmed Cistern (JFR's own cost out)")
    args = parser.parse_args()
    if not os.path.exists(bench.JAR):
        sys.exit("build Cistern first: mvn -B -q -DskipTests package")
    work = tempfile.mkdtemp(prefix="cistern-cold-profile-")
    print("work directory", work, flush=True)
    servers = []
    try:
        layout = bench.Layout(os.path.join(work, "layout"))
        layer = int(args.layer_mib * bench.MiB)
        tags = (["warm-%d" % k for k in range(args.warm_images)] + ["p-%d" % i for i in range(args.pulls)]
                + ["f-%d" % i for i in range(args.fresh)])
        for tag in tags:
            sizes = ([args.warm_layer_kib * 1024] * 5 if tag.startswith("warm")
                     else [int(float(m) * bench.MiB) for m in args.sizes.split(",")] if args.sizes
                     else [layer] * args.layers)
            descriptor, _ = layout.image_of(tag, sizes)
            layout.tag(tag, descriptor)
        layout.finish()
        upstream = bench.distribution(work, "upstream")
        servers.append(upstream)
        for tag in tags:
            bench.skopeo(work, ["copy", "--dest-tls-verify=false", "--preserve-digests", "oci:%s:%s" % (layout.path, tag),
                                "docker://127.0.0.1:%d/bench/images:%s" % (upstream.port, tag)])
        upstream_url = "http://127.0.0.1:%d" % upstream.port
        settings = jfc(os.path.join(work, "cold.jfc"))
        dist = bench.distribution(work, "distribution", proxy_of=upstream_url)
        servers.append(dist)
        cis = bench.cistern(work, "cistern", upstream_url)
        servers.append(cis)
        ports = {"direct": upstream.port, "distribution": dist.port, "cistern": cis.port}
        pids = {"direct": None, "distribution": dist.process.pid, "cistern": cis.process.pid}
        for side in ("distribution", "cistern"):
            for k in range(args.warm_images):
                puller.pull(ports[side], bench.NAME, "warm-%d" % k)
        recording = os.path.join(work, "warm.jfr")
        if not args.no_jfr:
            subprocess.run(["jcmd", str(cis.process.pid), "JFR.start", "name=cold", "settings=" + settings,
                            "filename=" + recording], check=True, capture_output=True)
        recorder = Recorder()
        results = {side: [] for side in bench.SIDES}
        cpu = {side: {"upstream": [], "proxy": [], "client": [], "proxy_system": [], "proxy_after": []}
               for side in bench.SIDES}
        threads, compiler_ms = {}, []
        for i in range(args.pulls):
            for side in bench.in_turns(i):
                bench.settle(list(filter(None, pids.values())) + [upstream.process.pid])
                up0 = cpu_seconds(upstream.process.pid)
                proxy0 = cpu_seconds(pids[side]) if pids[side] else 0
                system0 = cpu_seconds(pids[side], system_only=True) if pids[side] else 0
                client0 = sum(os.times()[:2])
                if side == "cistern":
                    threads_before = thread_cpu(pids[side])
                    result = recorder.pull(ports[side], "p-%d" % i)
                    compiling = 0.0
                    for name, now in thread_cpu(pids[side]).items():
                        total = threads.setdefault(name, [0.0, 0.0, 0])
                        used = [now[k] - threads_before.get(name, [0, 0, 0])[k] for k in range(3)]
                        for k in range(3):
                            total[k] += used[k]
                        compiling += used[0] + used[1] if "Compiler" in name else 0
                    # Whether the JIT is still at work on the cold path, pull after pull.
                    compiler_ms.append(round(1000 * compiling))
                else:
                    result = puller.pull(ports[side], bench.NAME, "p-%d" % i)
                cpu[side]["client"].append(sum(os.times()[:2]) - client0)
                cpu[side]["upstream"].append(cpu_seconds(upstream.process.pid) - up0)
                cpu[side]["proxy"].append(cpu_seconds(pids[side]) - proxy0 if pids[side] else 0)
                cpu[side]["proxy_system"].append(
                    cpu_seconds(pids[side], system_only=True) - system0 if pids[side] else 0)
                # What a proxy still does once its client has the image (Distribution's second
                # fetch, to store the blobs) is part of the pull's cost too.
                served = cpu_seconds(pids[side]) if pids[side] else 0
                bench.settle(list(filter(None, pids.values())) + [upstream.process.pid])
                cpu[side]["proxy_after"].append(cpu_seconds(pids[side]) - served if pids[side] else 0)
                results[side].append(result)
        if not args.no_jfr:
            subprocess.run(["jcmd", str(cis.process.pid), "JFR.stop", "name=cold"], check=True, capture_output=True)
        report = {"warm": {side: blob_stats(results[side]) for side in bench.SIDES},
                  "cistern_thread_cpu_ms_per_pull": thread_cpu_delta({}, threads, args.pulls),
                  "cistern_jit_ms_by_pull": compiler_ms,
                  "cpu_per_pull_s": {side: {k: round(statistics.median(v), 3) for k, v in cpu[side].items()}
                                     for side in bench.SIDES}}
        views = [b for r in results["cistern"] for b in r["blobs"]]
        if not args.no_jfr:
            report["warm_jfr"] = analyse_recording(recording, recorder.windows, views)
        for server in servers[1:]:
            server.stop()
        servers = servers[:1]
        # Fresh processes, recorded from their start.
        fresh_results, fresh_profiles = [], []
        for i in range(args.fresh):
            root = os.path.join(work, "fresh-%d" % i)
            port, command = bench.fresh_server("cistern", root, upstream_url)
            fresh_recording = os.path.join(root, "fresh.jfr")
            fresh_dump = os.path.join(root, "fresh-dump.jfr")
            command = [command[0], "-XX:StartFlightRecording=settings=%s,filename=%s" % (settings, fresh_recording)] \
                + command[1:]
            bench.settle([upstream.process.pid])
            with open(os.path.join(root, "server.log"), "w") as log:
                process = subprocess.Popen(command, cwd=root, stdout=log, stderr=subprocess.STDOUT)
            try:
                bench.await_first_answer(process, port)
                fresh = Recorder()
                fresh_results.append(dict(fresh.pull(port, "f-%d" % i), window=fresh.windows[0]))
                subprocess.run(["jcmd", str(process.pid), "JFR.dump", "filename=" + fresh_dump],
                               check=True, capture_output=True)
                profile = analyse_recording(fresh_dump, fresh.windows, [b for b in fresh_results[-1]["blobs"]])
                profile["phases"] = phases(fresh_dump, fresh_results[-1])
                fresh_profiles.append(profile)
            finally:
                process.terminate()
                process.wait(20)
        if args.fresh:
            report["fresh"] = blob_stats(fresh_results)
            report["fresh_jfr"] = fresh_profiles
        with open(os.path.join(work, "profile.json"), "w") as f:
            json.dump({"report": report, "results": results, "fresh_results": fresh_results}, f, indent=2)
        print_report(report)
        print("\nall figures:", os.path.join(work, "profile.json"))
        return 0
    finally:
        for server in reversed(servers):
            server.stop()
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)


def print_report(report):
    print("\n== client's view, warmed servers (medians; ms unless said) ==")
    keys = ["pull_s", "pull_s_range", "ping_ms", "manifest_ms", "config_ttfb_ms", "config_last_byte_ms", "layer_ttfb_ms",
            "layer_body_ms", "layer_last_byte_ms", "layer_last_byte_ms_max"]
    print("%-24s %16s %16s %16s %16s" % ("", "direct", "distribution", "cistern", "cistern, fresh"))
    for key in keys:
        print("%-24s %16s %16s %16s %16s" % (key, report["warm"]["direct"][key], report["warm"]["distribution"][key],
                                             report["warm"]["cistern"][key], report.get("fresh", {}).get(key, "")))
    print("\n== CPU seconds per pull (median) ==")
    for side, v in report["cpu_per_pull_s"].items():
        print("  %-13s upstream %.3f  proxy %.3f (system %.3f), then %.3f after the client had the image  client %.3f"
              % (side, v["upstream"], v["proxy"], v["proxy_system"], v["proxy_after"], v["client"]))
    print("  Cistern by thread, ms per pull (user/system) and sleeps per pull:", ", ".join(
        "%s %.0f/%.0f %d" % row for row in report["cistern_thread_cpu_ms_per_pull"][:12]))
    print("  Cistern's JIT compiler threads, ms in each pull:", report["cistern_jit_ms_by_pull"])
    for label, profile in ([("warmed Cistern", report["warm_jfr"])] if "warm_jfr" in report else []) + [
            ("fresh Cistern #%d" % (i + 1), p) for i, p in enumerate(report.get("fresh_jfr", []))]:
        print("\n== JFR, %s, over its pulls ==" % label)
        print("  Java samples: %d (%d with an interpreted top frame)" % (
            profile["java_samples"], profile["java_samples_interpreted_top_frame"]))
        print("  by thread:   ", ", ".join("%s %d" % kv for kv in profile["java_samples_by_thread"][:8]))
        print("  by activity: ", ", ".join("%s %d" % kv for kv in profile["java_samples_by_activity"]))
        print("  top frames:  ", "; ".join("%s %d" % kv for kv in profile["java_top_frames"][:8]))
        print("  native, busy:", "; ".join("%s %d" % kv for kv in profile["native_busy_samples"][:6]))
        for kind, f in profile["fsyncs"].items():
            print("  fsync %-9s: %d, median %.1f ms, max %.1f ms, total %.0f ms (%s)" % (
                kind, f["count"], f["median_ms"], f["max_ms"], f["total_ms"], ", ".join(f["threads"])))
        matched = profile["blob_fsync_vs_last_byte"]
        if matched:
            big = [m for m in matched if m["size"] > 4096]
            if big:
                print("  layers: last byte held %.1f ms (median); the blob's fsync (off the client's path) %.1f ms" % (
                    statistics.median(m["last_byte_ms"] for m in big), statistics.median(m["fsync_ms"] for m in big)))
        print("  GC: %d, %.1f ms; compilations: %d (%d C2), %.0f ms; classes loaded: %d %s" % (
            profile["gc"]["count"], profile["gc"]["total_ms"], profile["compilations"]["count"],
            profile["compilations"]["c2"], profile["compilations"]["total_ms"], profile["classes_loaded"],
            profile["classes_loaded_by_package"][:4]))
        print("  threads started:", ", ".join("%s %d" % kv for kv in profile["threads_started"]))
        for phase in profile.get("phases", []):
            print("  phase %-8s %6.1f ms: %d classes %s; %d compilations (%d ms); %d GCs (%.1f ms); %d threads; "
                  "%d samples (%d interpreted) %s" % (
                      phase["phase"], phase["ms"], phase["classes_loaded"], phase["classes_by_package"][:4],
                      phase["compilations"], phase["compile_ms"], phase["gcs"], phase["gc_ms"], phase["threads_started"],
                      phase["java_samples"], phase["interpreted"], phase["top_frames"][:3]))
        print("  parks over 1 ms:", "; ".join("%s %d" % kv for kv in profile["parks_over_1ms"][:5]))


if __name__ == "__main__":
    sys.exit(main())
