#!/usr/bin/env python3
"""A lean registry puller that times every response to the byte: the bench's cold-pull client.

    python3 bench/puller.py --port 5000 --image bench/images:medium [--parallel 3] [--json]

pulls like a container runtime, minus unpacking: GET /v2/, the manifest by tag (an index: its
linux/amd64 child), then the config and layers over up to --parallel keep-alive connections at
once (3, containerd's and dockerd's default), checking each blob's size and sha256 as it arrives
and writing nothing to disk. Each response records when its request went out, when its headers
came in, its first body byte, the moment all but its last byte had arrived, and its end: a
server that holds a blob's last byte back until it has verified (and today, stored) the blob
shows that wait as `last_byte_s`.

Why not skopeo for these rows: see "Cold pulls" in the README's benchmark section (skopeo writes
and re-hashes every layer and starts a process per pull, which costs more than the penalties
being measured and varies with the disk).

Standard library only; plain HTTP on 127.0.0.1, no authentication (the bench's servers need none).
"""
import argparse
import hashlib
import json
import queue
import socket
import sys
import threading
import time

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
ACCEPT = ", ".join([OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, "application/vnd.docker.distribution.manifest.v2+json"])
BUFFER = 256 * 1024


class PullError(RuntimeError):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection on a plain socket; reads each body as it arrives."""

    def __init__(self, port, host="127.0.0.1", timeout=600):
        self.address = (host, port)
        self.timeout = timeout
        self.sock = None
        self.pending = b""  # bytes read past the previous response (none: we never pipeline)
        self.buffer = bytearray(BUFFER)

    def close(self):
        if self.sock is not None:
            self.sock.close()
            self.sock = None
        self.pending = b""

    def get(self, path, headers=None, method="GET", hasher=None, keep=False, keep_from=0):
        """One request; returns a dict with status, headers (lower-case names), size, optionally
        the body (or, of a 200, its bytes from `keep_from` on), and the times (time.monotonic()) of the
        request, the headers, the first body byte, the last byte but one, and the end."""
        for attempt in (1, 2):
            fresh = self.sock is None
            if fresh:
                self.sock = socket.create_connection(self.address, timeout=self.timeout)
                self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            lines = ["%s %s HTTP/1.1" % (method, path), "Host: %s:%d" % self.address]
            lines += ["%s: %s" % kv for kv in (headers or {}).items()]
            sent = time.monotonic()
            try:
                self.sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
                head = self._head()
            except (ConnectionError, PullError):
                # A kept-alive connection the server closed meanwhile: once more on a new one.
                self.close()
                if fresh or attempt == 2:
                    raise
                continue
            return self._body(head, sent, method, hasher, keep, keep_from)

    def _recv(self, limit):
        """Up to `limit` bytes: first what was read past the headers, then from the socket."""
        if self.pending:
            data, self.pending = self.pending[:limit], self.pending[limit:]
            return data
        view = memoryview(self.buffer)[:min(limit, BUFFER)]
        n = self.sock.recv_into(view)
        if n == 0:
            raise PullError("the server closed the connection mid-body")
        return view[:n]

    def _head(self):
        data = b""
        while b"\r\n\r\n" not in data:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise PullError("the server closed the connection before answering")
            data += chunk
            if len(data) > 1 << 20:
                raise PullError("response head larger than 1 MiB")
        head, self.pending = data.split(b"\r\n\r\n", 1)
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        headers = {}
        for line in header_lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        return {"status": int(status_line.split()[1]), "headers": headers, "headers_at": time.monotonic()}

    def _body(self, head, sent, method, hasher, keep, keep_from):
        result = dict(head, sent_at=sent, first_byte_at=None, last_but_one_at=None, size=0)
        if head["status"] != 200:
            keep_from = 0  # a partial answer starts where its range does
        headers = head["headers"]
        kept = []
        if method == "HEAD" or head["status"] in (204, 304):
            result["end_at"] = result["headers_at"]
        elif "content-length" in headers:
            length = int(headers["content-length"])
            received = 0
            if length == 0:
                result["first_byte_at"] = result["last_but_one_at"] = result["headers_at"]
            while received < length:
                chunk = self._recv(length - received)
                now = time.monotonic()
                if received == 0:
                    result["first_byte_at"] = now
                if hasher is not None:
                    hasher.update(chunk)
                if keep and received + len(chunk) > keep_from:
                    kept.append(bytes(chunk[max(0, keep_from - received):]))
                received += len(chunk)
                if result["last_but_one_at"] is None and received >= length - 1:
                    result["last_but_one_at"] = now
            result["size"] = received
            result["end_at"] = time.monotonic()
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            received = 0
            while True:
                size_line = self._line()
                size = int(size_line.split(b";")[0], 16)
                if size == 0:
                    while self._line():  # trailers, then the blank line
                        pass
                    break
                left = size
                while left:
                    chunk = self._recv(left)
                    if result["first_byte_at"] is None:
                        result["first_byte_at"] = time.monotonic()
                    if hasher is not None:
                        hasher.update(chunk)
                    if keep and received + len(chunk) > keep_from:
                        kept.append(bytes(chunk[max(0, keep_from - received):]))
                    received += len(chunk)
                    left -= len(chunk)
                self._exact(2)
            result["size"] = received
            result["end_at"] = time.monotonic()
        else:
            raise PullError("a response with neither Content-Length nor chunked encoding")
        if keep:
            result["body"] = b"".join(kept)
        if headers.get("connection", "").lower() == "close":
            self.close()
        return result

    def _line(self):
        while b"\r\n" not in self.pending:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise PullError("the server closed the connection mid-body")
            self.pending = bytes(self.pending) + chunk
        line, self.pending = bytes(self.pending).split(b"\r\n", 1)
        return line

    def _exact(self, n):
        data = b""
        while len(data) < n:
            data += bytes(self._recv(n - len(data)))
        return data


def blob_timings(result, t0):
    """A blob response's times relative to the pull's start (seconds), and the last byte's wait."""
    def rel(key):
        return None if result.get(key) is None else round(result[key] - t0, 6)
    last_but_one = result.get("last_but_one_at")
    return {"size": result["size"], "sent": rel("sent_at"), "headers": rel("headers_at"),
            "first_byte": rel("first_byte_at"), "end": rel("end_at"),
            "ttfb_s": round(result["headers_at"] - result["sent_at"], 6),
            "last_byte_s": None if last_but_one is None else round(result["end_at"] - last_but_one, 6)}


def pull(port, name, reference, parallel=3, host="127.0.0.1"):
    """Pulls one image; returns the seconds it took, the bytes received and each blob's timings.
    Raises PullError on a wrong status, size or digest."""
    t0 = time.monotonic()
    connection = Connection(port, host)
    connections = [connection]
    try:
        ping = connection.get("/v2/")
        if ping["status"] not in (200, 401):
            raise PullError("GET /v2/ answered %d" % ping["status"])
        manifest_sent = time.monotonic()
        manifest, total = _manifest(connection, name, reference)
        if manifest.get("mediaType") in (OCI_INDEX, DOCKER_LIST) or "manifests" in manifest:
            child = next(m for m in manifest["manifests"]
                         if m.get("platform", {}).get("architecture") == "amd64")
            manifest, size = _manifest(connection, name, child["digest"])
            total += size
        phases = {"ping_s": manifest_sent - t0, "manifest_s": time.monotonic() - manifest_sent}
        descriptors = [manifest["config"]] + manifest["layers"]
        work = queue.Queue()
        for descriptor in descriptors:
            work.put(descriptor)
        timings, errors, lock = [], [], threading.Lock()

        def fetch(conn):
            while True:
                try:
                    descriptor = work.get_nowait()
                except queue.Empty:
                    return
                try:
                    sha = hashlib.sha256()
                    result = conn.get("/v2/%s/blobs/%s" % (name, descriptor["digest"]), hasher=sha)
                    if result["status"] != 200:
                        raise PullError("blob %s answered %d" % (descriptor["digest"], result["status"]))
                    if result["size"] != descriptor["size"] or "sha256:" + sha.hexdigest() != descriptor["digest"]:
                        raise PullError("wrong bytes for %s (%d bytes)" % (descriptor["digest"], result["size"]))
                    with lock:
                        timings.append(dict(blob_timings(result, t0), digest=descriptor["digest"]))
                except Exception as e:  # noqa: BLE001 - reported below, the pull fails
                    with lock:
                        errors.append(e)
                    return

        threads = []
        for i in range(min(parallel, len(descriptors))):
            conn = connection if i == 0 else Connection(port, host)
            if i:
                connections.append(conn)
            threads.append(threading.Thread(target=fetch, args=(conn,)))
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        if errors:
            raise errors[0]
        total += sum(t["size"] for t in timings)
        end = time.monotonic()
        # Monotonic times are the machine's, not the process's: comparable across client processes.
        return dict(phases, seconds=end - t0, started_at=t0, ended_at=end, bytes=total, blobs=timings)
    finally:
        for conn in connections:
            conn.close()


def _manifest(connection, name, reference):
    result = connection.get("/v2/%s/manifests/%s" % (name, reference), {"Accept": ACCEPT}, keep=True)
    if result["status"] != 200:
        raise PullError("manifest %s:%s answered %d" % (name, reference, result["status"]))
    body = result["body"]
    announced = result["headers"].get("docker-content-digest")
    if announced and announced != "sha256:" + hashlib.sha256(body).hexdigest():
        raise PullError("manifest %s:%s does not match its digest %s" % (name, reference, announced))
    if reference.startswith("sha256:") and reference != "sha256:" + hashlib.sha256(body).hexdigest():
        raise PullError("manifest %s does not match its digest" % reference)
    return json.loads(body), len(body)


def ranged_get(port, name, digest, first, last, expected, host="127.0.0.1"):
    """GETs bytes first..last of a blob; returns the seconds to the range's last byte, to the
    response's headers, and the status. A server that ignores Range (200, the whole blob) is
    read to the range's end, as a lazy-pull reader would have to. Raises on wrong bytes."""
    connection = Connection(port, host)
    try:
        result = connection.get("/v2/%s/blobs/%s" % (name, digest), {"Range": "bytes=%d-%d" % (first, last)},
                                keep=True, keep_from=first)
    finally:
        connection.close()
    if result["status"] == 206:
        body = result["body"]
    elif result["status"] == 200:
        body = result["body"][:last - first + 1]
    else:
        raise PullError("range of %s answered %d" % (digest, result["status"]))
    if body != expected:
        raise PullError("wrong bytes in the range %d-%d of %s" % (first, last, digest))
    return {"seconds": result["end_at"] - result["sent_at"], "headers_s": result["headers_at"] - result["sent_at"],
            "status": result["status"]}


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--image", required=True, help="NAME:TAG or NAME@sha256:...")
    parser.add_argument("--parallel", type=int, default=3)
    parser.add_argument("--json", action="store_true", help="print every blob's timings as JSON")
    args = parser.parse_args()
    name, sep, reference = args.image.rpartition("@")
    if not sep:
        name, _, reference = args.image.rpartition(":")
    result = pull(args.port, name, reference, args.parallel)
    if args.json:
        print(json.dumps(result, indent=2))
    else:
        print("%.3f s, %d bytes, %d blobs; /v2/ %.1f ms, manifest %.1f ms" % (
            result["seconds"], result["bytes"], len(result["blobs"]), result["ping_s"] * 1000, result["manifest_s"] * 1000))
        for blob in sorted(result["blobs"], key=lambda b: b["sent"]):
            print("  %s %10d  sent %.3f  headers %.3f  end %.3f  ttfb %.1f ms  last byte %.1f ms" % (
                blob["digest"][7:19], blob["size"], blob["sent"], blob["headers"], blob["end"],
                blob["ttfb_s"] * 1000, (blob["last_byte_s"] or 0) * 1000))
    return 0


if __name__ == "__main__":
    sys.exit(main())
