#!/usr/bin/env python3
"""Start to first answer and resident memory at idle of fresh Cistern processes (rows 7 and 8 of
bench.py), alone and fast enough to compare JVM options in one session on a busy machine.

    python3 bench/footprint.py [--starts 7] [--settle 10] [--nmt] \
        [--variant NAME='EXTRA JVM OPTIONS'] [--variant NAME2='...'] [--env NAME=K=V] [--build NAME=DIR]

Each start: the command of scripts/run.sh (scripts/jvm-options, the build's class-data archive and
SQLite library; CISTERN_JAVA_OPTS replaces the options), a config with the default keys but
loopback listeners on free ports and a fresh cache directory. The clock runs from the exec to the
first HTTP answer on /v2/ (asked in a tight connect loop), with the CPU the process used until
then (user and system: on a busy machine a steadier measure of a start's work than its wall time); `--settle` seconds later it reads VmRSS
and where it sits (/proc/PID/status: anonymous, file-backed; threads), then the classes loaded
(the JVM's perf counters, through jcmd), and with --nmt the JVM's
committed native memory by category (jcmd VM.native_memory; NMT itself costs a little memory and
start time, so compare --nmt runs only with --nmt runs). Variants (the shipped options plus extra
ones) run in turns, so drift in the machine's load hits each alike; the table shows medians.
Needs a built proxy-server/target/cistern.jar. Everything listens on 127.0.0.1.
"""
import argparse
import os
import re
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
JAR = os.path.join(ROOT, "proxy-server", "target", "cistern.jar")
ARCHIVE = os.path.join(ROOT, "proxy-server", "target", "cistern.jsa")


def shipped_options():
    with open(os.path.join(ROOT, "scripts", "jvm-options")) as f:
        return os.environ.get("CISTERN_JAVA_OPTS", f.read()).split()


def command(config, extra, build):
    """scripts/run.sh's command; `build` is a directory holding another build's cistern.jar, its
    archive and sqlite-native (proxy-server/target by default)."""
    jar = os.path.join(build, "cistern.jar") if build else JAR
    sqlite_native = os.path.join(os.path.dirname(jar), "sqlite-native", "org", "sqlite", "native", "Linux",
                                 os.uname().machine)
    # A variant may name another archive (the JDK's own, to compare).
    archive = os.path.join(os.path.dirname(jar), "cistern.jsa")
    archive = [] if any(o.startswith("-XX:SharedArchiveFile=") for o in extra) else ["-XX:SharedArchiveFile=" + archive]
    return (["java"] + shipped_options() + extra + archive
            + ["-Dorg.sqlite.lib.path=" + sqlite_native, "-jar", jar, "--config", config])


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def first_answer(process, port, deadline_s=60):
    start = time.monotonic()
    while True:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                s.sendall(b"GET /v2/ HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
                if s.recv(16).startswith(b"HTTP/1."):
                    return
        except OSError:
            pass
        if process.poll() is not None or time.monotonic() - start > deadline_s:
            raise RuntimeError("no answer on port %d" % port)
        time.sleep(0.001)


def status(pid):
    fields = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            name, _, value = line.partition(":")
            if name in ("VmRSS", "RssAnon", "RssFile", "RssShmem"):
                fields[name] = int(value.split()[0]) / 1024.0
            elif name == "Threads":
                fields[name] = int(value)
    return fields


def cpu_seconds(pid):
    """User and system CPU the process has used: a start's cost, less sensitive to a busy machine than its wall time."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def loaded_classes(pid):
    """Classes the JVM has loaded and not unloaded, from the archive and from jars alike (its perf
    counters): RSS at idle follows this count, at about 8 KiB a class."""
    out = subprocess.run(["jcmd", str(pid), "PerfCounter.print"], capture_output=True, text=True).stdout
    counters = dict(re.findall(r"^java\.cls\.(\w+)=(\d+)$", out, re.M))
    if not counters:
        return {}
    return {"classes": sum(int(counters.get(k, 0)) for k in ("loadedClasses", "sharedLoadedClasses"))
            - sum(int(counters.get(k, 0)) for k in ("unloadedClasses", "sharedUnloadedClasses"))}


def native_memory(pid):
    """Committed KiB by NMT category, in MiB."""
    out = subprocess.run(["jcmd", str(pid), "VM.native_memory", "summary"], capture_output=True, text=True).stdout
    categories = {}
    for match in re.finditer(r"^-\s+(.+?) \(reserved=\d+KB, committed=(\d+)KB", out, re.M):
        categories["nmt " + match.group(1).strip()] = int(match.group(2)) / 1024.0
    total = re.search(r"^Total: reserved=\d+KB, committed=(\d+)KB", out, re.M)
    if total:
        categories["nmt Total"] = int(total.group(1)) / 1024.0
    return categories


def one_start(work, extra, env, build, settle_s, nmt):
    root = tempfile.mkdtemp(dir=work)
    port = free_port()
    config = os.path.join(root, "cistern.yml")
    with open(config, "w") as f:
        f.write("server:\n  address: 127.0.0.1\n  port: %d\nadmin:\n  address: 127.0.0.1\n  port: 0\n"
                "cache:\n  directory: %s/cache\nupstreams:\n  - host: upstream.bench\n    url: http://127.0.0.1:9\n"
                % (port, root))
    options = extra + (["-XX:NativeMemoryTracking=summary"] if nmt else [])
    with open(os.path.join(root, "server.log"), "w") as log:
        start = time.monotonic()
        process = subprocess.Popen(command(config, options, build), cwd=root, stdout=log, stderr=subprocess.STDOUT,
                                   env=dict(os.environ, **env))
        try:
            first_answer(process, port)
            sample = {"start s": time.monotonic() - start, "start CPU s": cpu_seconds(process.pid)}
            time.sleep(settle_s)
            sample.update(status(process.pid))
            sample.update(loaded_classes(process.pid))
            if nmt:
                sample.update(native_memory(process.pid))
            return sample
        except RuntimeError:
            raise RuntimeError("no answer; see %s/server.log" % root) from None
        finally:
            process.terminate()
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--starts", type=int, default=7)
    parser.add_argument("--settle", type=float, default=10.0, help="seconds from the first answer to the RSS sample")
    parser.add_argument("--nmt", action="store_true")
    parser.add_argument("--variant", action="append", default=[], metavar="NAME=OPTIONS",
                        help="extra JVM options after the shipped ones (repeatable; 'shipped' always runs)")
    parser.add_argument("--env", action="append", default=[], metavar="NAME=KEY=VALUE",
                        help="an environment variable for one variant")
    parser.add_argument("--build", action="append", default=[], metavar="NAME=DIR",
                        help="a variant running another build: DIR holds its cistern.jar, cistern.jsa (made for"
                             " that path) and sqlite-native; with --variant of the same NAME, with its options")
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    variants = {"shipped": ([], {}, None)}
    for spec in args.variant:
        name, _, options = spec.partition("=")
        variants[name] = (options.split(), {}, None)
    for spec in args.env:
        name, _, assignment = spec.partition("=")
        key, _, value = assignment.partition("=")
        variants.setdefault(name, ([], {}, None))[1][key] = value
    for spec in args.build:
        name, _, directory = spec.partition("=")
        options, env, _ = variants.get(name, ([], {}, None))
        variants[name] = (options, env, os.path.abspath(directory))
    work = tempfile.mkdtemp(prefix="cistern-footprint-")
    samples = {name: [] for name in variants}
    try:
        for i in range(args.starts):
            for name, (extra, env, build) in variants.items():
                sample = one_start(work, extra, env, build, args.settle, args.nmt)
                samples[name].append(sample)
                print("%-12s start %d: %.3f s, RSS %.1f MiB" % (name, i + 1, sample["start s"], sample["VmRSS"]),
                      file=sys.stderr)
    finally:
        if not args.keep:
            shutil.rmtree(work, ignore_errors=True)
    keys = []
    for name in variants:
        for sample in samples[name]:
            keys += [k for k in sample if k not in keys]
    print("\nmedians of %d starts, RSS %g s after the first answer (MiB)" % (args.starts, args.settle))
    print("%-28s" % "" + "".join("%14s" % name[:13] for name in variants))
    for key in keys:
        row = []
        for name in variants:
            values = [s[key] for s in samples[name] if key in s]
            row.append(statistics.median(values) if values else float("nan"))
        fmt = "%14.3f" if key.startswith("start") else "%14.0f" if key in ("Threads", "classes") else "%14.1f"
        print("%-28s" % key[:28] + "".join(fmt % v for v in row))


if __name__ == "__main__":
    main()
